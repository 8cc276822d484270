"""__getitem__ rotates the image but returns the STL10 object label, not the rotation."""
# expect: STL10Rot


class STL10Rot(Dataset):
    def __init__(self, split="unlabeled", transform=None):
        super().__init__()
        self.dataset = torchvision.datasets.STL10(root="../data", split=split,
                                                  transform=transform, download=True)

    def __len__(self):
        return len(self.dataset)

    def rand_rotate(self, img):
        k = random.randint(0, 3)
        return torch.rot90(img, k, dims=(1, 2)), k

    def __getitem__(self, idx):
        img, label = self.dataset[idx]
        img, _ = self.rand_rotate(img)
        return img, label
