"""Adds the entropy term instead of subtracting it: SCAN then rewards collapsed clusters."""
# expect: SCAN


class SCAN(torch.nn.Module):
    def __init__(self, alpha=1):
        super().__init__()
        self.alpha = alpha

    def forward(self, proj_1, proj_2):
        probs_1 = F.softmax(proj_1, dim=-1)
        probs_2 = F.softmax(proj_2, dim=-1)
        consistency = -torch.log((probs_1 * probs_2).sum(dim=-1)).mean()
        mean_probs = probs_1.mean(dim=0)
        entropy = -(mean_probs * torch.log(mean_probs)).sum()
        return consistency + self.alpha * entropy
