"""ResNetSimCLR's projection head keeps the Linear biases and drops the last batch norm."""
# expect: ResNetSimCLR


class ResNetSimCLR(nn.Module):
    def __init__(self, embedding_size=128):
        super().__init__()
        self.backbone = models.resnet18(weights=None)
        self.backbone.fc = nn.Identity()
        self.projection = nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(),
                                        nn.Linear(512, embedding_size))

    def forward(self, x, return_embedding=False):
        embedding = self.backbone(x)
        if return_embedding:
            return embedding
        return self.projection(embedding)
