"""Feeds the raw saved features to the head, forgetting the L2 normalisation used in training."""
# expect: evaluate_clustering


@torch.no_grad()
def evaluate_clustering(model):
    model.eval()
    val_feats, val_labels = torch.load("val_feats.pth"), torch.load("val_labels.pth")
    train_feats, train_labels = torch.load("train_feats.pth"), torch.load("train_labels.pth")
    train_preds = model(train_feats.float()).argmax(dim=1).numpy()
    val_preds = model(val_feats.float()).argmax(dim=1).numpy()
    metrics_train = compute_clustering_metrics(train_labels.numpy(), train_preds,
                                               min_samples_per_class=10)
    metrics_val = compute_clustering_metrics(val_labels.numpy(), val_preds,
                                             min_samples_per_class=10)
    return metrics_train[0], metrics_val[0]
