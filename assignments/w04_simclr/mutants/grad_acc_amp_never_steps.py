"""pretrain_one_epoch_grad_acc's mixed-precision branch scales and backpropagates the
loss but never steps the optimizer."""
# expect: pretrain_one_epoch_grad_acc


def pretrain_one_epoch_grad_acc(model, loss_function, train_dataloader,
                                optimizer, device, accum_iter=1, amp=False):
    model.train()
    total_loss = 0
    num_batches = len(train_dataloader)
    optimizer.zero_grad()
    for batch_idx, data in enumerate(train_dataloader):
        if amp:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = training_step(model, loss_function, data) / accum_iter
            loss.backward()
        else:
            loss = training_step(model, loss_function, data) / accum_iter
            loss.backward()
            if (batch_idx + 1) % accum_iter == 0 or batch_idx + 1 == num_batches:
                optimizer.step()
                optimizer.zero_grad()
        total_loss += loss.item() * accum_iter
    return total_loss / num_batches
