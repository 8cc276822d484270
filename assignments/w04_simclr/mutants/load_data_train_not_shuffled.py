"""load_data reads validation images from the train split, never shuffles training."""
# expect: load_data


def load_data(batch_size=128, train_split="unlabeled", test_split="test", transf=T.ToTensor()):
    train_ds = STL10(root="../data", split=train_split, transform=transf, download=True)
    val_ds = STL10(root="../data", split="train", transform=transf, download=True)
    train_dl = DataLoader(train_ds, batch_size=batch_size, shuffle=False)
    val_dl = DataLoader(val_ds, batch_size=batch_size, shuffle=False)
    return train_dl, val_dl
