"""validate forgets model.eval() and torch.no_grad()."""
# expect: validate


def validate(model, val_loader, criterion, device):
    losses = []
    for x, _ in val_loader:
        x = x.to(device)
        losses.append(criterion(model(x), x).item())
    return float(np.mean(losses))
