"""Returns the PMI itself instead of minus the PMI (the sign the notebook warns about)."""
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
        batch_center = output.mean(dim=0)
        if self.center is None:
            self.center = torch.full_like(batch_center, 1.0 / batch_center.numel())
        self.center = self.momentum * self.center + (1 - self.momentum) * batch_center

    def forward(self, proj_1, proj_2):
        probs_1 = F.softmax(proj_1 / self.temp, dim=-1)
        probs_2 = F.softmax(proj_2 / self.temp, dim=-1)
        self.update_ema(probs_2)
        joint = (probs_1 * probs_2) ** self.gamma
        return torch.log((joint / self.center).sum(dim=-1)).mean()
