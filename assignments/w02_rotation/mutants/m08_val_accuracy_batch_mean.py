"""compute_val_accuracy averages per-batch accuracies, which overweights a small last batch."""
# expect: compute_val_accuracy


def compute_val_accuracy(model, val_loader, device):
    model.eval()
    accs, losses = [], []
    with torch.no_grad():
        for images, targets in val_loader:
            images, targets = images.to(device), targets.to(device)
            logits = model(images)
            losses.append(F.cross_entropy(logits, targets).item())
            accs.append(100.0 * (logits.argmax(dim=1) == targets).float().mean().item())
    return float(np.mean(accs)), float(np.mean(losses))
