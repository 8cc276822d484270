"""load_resnet ends the network with a softmax, so cross-entropy gets probabilities."""
# expect: load_resnet


def load_resnet():
    model = torchvision.models.resnet18(weights=None)
    model.fc = nn.Sequential(nn.Linear(512, 4), nn.Softmax(dim=1))
    return model
