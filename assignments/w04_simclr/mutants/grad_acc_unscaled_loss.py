"""pretrain_one_epoch_grad_acc accumulates without dividing each loss by accum_iter."""
# expect: pretrain_one_epoch_grad_acc


def pretrain_one_epoch_grad_acc(model, loss_function, train_dataloader,
                                optimizer, device, accum_iter=1, amp=False):
    model.train()
    total_loss = 0
    num_batches = len(train_dataloader)
    optimizer.zero_grad()
    for batch_idx, data in enumerate(train_dataloader):
        loss = training_step(model, loss_function, data)
        loss.backward()
        if (batch_idx + 1) % accum_iter == 0 or batch_idx + 1 == num_batches:
            optimizer.step()
            optimizer.zero_grad()
        total_loss += loss.item()
    return total_loss / num_batches
