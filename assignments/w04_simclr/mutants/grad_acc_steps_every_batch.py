"""pretrain_one_epoch_grad_acc scales the loss but still steps after every batch."""
# expect: pretrain_one_epoch_grad_acc


def pretrain_one_epoch_grad_acc(model, loss_function, train_dataloader,
                                optimizer, device, accum_iter=1, amp=False):
    model.train()
    total_loss = 0
    num_batches = len(train_dataloader)
    for batch_idx, data in enumerate(train_dataloader):
        optimizer.zero_grad()
        loss = training_step(model, loss_function, data) / accum_iter
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * accum_iter
    return total_loss / num_batches
