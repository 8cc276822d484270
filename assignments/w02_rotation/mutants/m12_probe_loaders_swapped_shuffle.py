"""linear_probe_setup shuffles the validation loader and not the training loader."""
# expect: linear_probe_setup


def linear_probe_setup(train_feats, train_labels, val_feats, val_labels, batch_size=256):
    classifier = nn.Linear(train_feats.shape[1], 10)
    optimizer = optim.Adam(classifier.parameters(), lr=1e-3)
    train_loader = DataLoader(TensorDataset(train_feats, train_labels), batch_size=batch_size)
    val_loader = DataLoader(TensorDataset(val_feats, val_labels), batch_size=batch_size,
                            shuffle=True)
    return classifier, optimizer, train_loader, val_loader
