"""linear_probe_setup reuses the pretext head size: 4 outputs instead of the 10 classes."""
# expect: linear_probe_setup


def linear_probe_setup(train_feats, train_labels, val_feats, val_labels, batch_size=256):
    classifier = nn.Linear(train_feats.shape[1], 4)
    optimizer = optim.Adam(classifier.parameters(), lr=1e-3)
    train_loader = DataLoader(TensorDataset(train_feats, train_labels), batch_size=batch_size,
                              shuffle=True)
    val_loader = DataLoader(TensorDataset(val_feats, val_labels), batch_size=batch_size)
    return classifier, optimizer, train_loader, val_loader
