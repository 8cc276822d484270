"""ContrastiveLoss leaves each view's similarity with itself in the denominator."""
# expect: ContrastiveLoss


class ContrastiveLoss(nn.Module):
    def __init__(self, batch_size, temperature=0.5):
        super().__init__()
        self.batch_size = batch_size
        self.temperature = temperature

    def forward(self, proj_1, proj_2):
        n = proj_1.shape[0]
        z = F.normalize(torch.cat([proj_1, proj_2], dim=0), dim=1)
        logits = z @ z.T / self.temperature
        positives = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
        return F.cross_entropy(logits, positives)
