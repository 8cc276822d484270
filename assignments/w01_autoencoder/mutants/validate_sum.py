"""validate returns the sum of the batch losses instead of their mean."""
# expect: validate


def validate(model, val_loader, criterion, device):
    model.eval()
    total = 0.0
    with torch.no_grad():
        for x, _ in val_loader:
            x = x.to(device)
            total += criterion(model(x), x).item()
    return total
