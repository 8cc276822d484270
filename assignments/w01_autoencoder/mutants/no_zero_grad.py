"""train_one_epoch never clears gradients, so they accumulate over batches."""
# expect: train_one_epoch


def train_one_epoch(model, optimizer, train_loader, criterion, device):
    model.train()
    losses = []
    for x, _ in train_loader:
        x = x.to(device)
        loss = criterion(model(x), x)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return float(np.mean(losses))
