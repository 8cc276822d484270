"""train_one_epoch never switches the model to train mode (it stays in eval after validate)."""
# expect: train_one_epoch


def train_one_epoch(model, optimizer, train_loader, criterion, device):
    losses = []
    for x, _ in train_loader:
        x = x.to(device)
        optimizer.zero_grad()
        loss = criterion(model(x), x)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return float(np.mean(losses))
