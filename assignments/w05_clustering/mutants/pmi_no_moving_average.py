"""Divides by the current batch mean every call and never keeps a moving average."""
# expect: PMI


class PMI(torch.nn.Module):
    def __init__(self, gamma=1, momentum=0.99, temp=0.1):
        super().__init__()
        self.gamma = gamma
        self.temp = temp
        self.center = None
        self.momentum = momentum

    @torch.no_grad()
    def update_ema(self, output):
        self.center = output.mean(dim=0)

    def forward(self, proj_1, proj_2):
        probs_1 = F.softmax(proj_1 / self.temp, dim=-1)
        probs_2 = F.softmax(proj_2 / self.temp, dim=-1)
        self.update_ema(probs_2)
        joint = (probs_1 * probs_2) ** self.gamma
        return -torch.log((joint / self.center).sum(dim=-1)).mean()
