"""train saves a checkpoint every epoch, so the last epoch wins instead of the best."""
# expect: train


def train(model, optimizer, num_epochs, train_loader, val_loader, criterion, device):
    dict_log = {"train_loss": [], "val_loss": []}
    for epoch in range(num_epochs):
        dict_log["train_loss"].append(
            train_one_epoch(model, optimizer, train_loader, criterion, device))
        val_loss = validate(model, val_loader, criterion, device)
        dict_log["val_loss"].append(val_loss)
        save_model(model, "model.pth", epoch, optimizer, val_loss)
    return dict_log
