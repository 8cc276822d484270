"""compute_val_accuracy forgets model.eval() and torch.no_grad()."""
# expect: compute_val_accuracy


def compute_val_accuracy(model, val_loader, device):
    correct, total, losses = 0, 0, []
    for images, targets in val_loader:
        images, targets = images.to(device), targets.to(device)
        logits = model(images)
        losses.append(F.cross_entropy(logits, targets).item())
        correct += (logits.argmax(dim=1) == targets).sum().item()
        total += targets.numel()
    return 100.0 * correct / total, float(np.mean(losses))
