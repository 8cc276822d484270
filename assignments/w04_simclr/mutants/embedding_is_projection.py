"""ResNetSimCLR.forward ignores return_embedding and always returns the projection."""
# expect: ResNetSimCLR


class ResNetSimCLR(nn.Module):
    def __init__(self, embedding_size=128):
        super().__init__()
        self.backbone = models.resnet18(weights=None)
        self.backbone.fc = nn.Identity()
        self.projection = nn.Sequential(
            nn.Linear(512, 512, bias=False), nn.BatchNorm1d(512), nn.ReLU(),
            nn.Linear(512, embedding_size, bias=False), nn.BatchNorm1d(embedding_size))

    def forward(self, x, return_embedding=False):
        return self.projection(self.backbone(x))
