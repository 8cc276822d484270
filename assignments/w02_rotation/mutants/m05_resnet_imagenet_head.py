"""load_resnet returns torchvision's ResNet18 unchanged, with its 1000-class head."""
# expect: load_resnet


def load_resnet():
    model = torchvision.models.resnet18(weights=None)
    return model
