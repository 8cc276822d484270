"""load_data ignores test_split and validates on the training split, without shuffling."""
# expect: load_data


def load_data(batch_size=128, train_split="unlabeled", test_split="test"):
    ds = torchvision.datasets.STL10(root="data", split=train_split, transform=T.ToTensor(),
                                    download=True)
    return DataLoader(ds, batch_size=batch_size), DataLoader(ds, batch_size=batch_size)
