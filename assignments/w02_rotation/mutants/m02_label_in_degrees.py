"""The dataset returns the angle in degrees (0, 90, 180, 270) instead of the class id."""
# expect: STL10Rot


class STL10Rot(Dataset):
    def __init__(self, split="unlabeled", transform=None):
        super().__init__()
        self.dataset = torchvision.datasets.STL10(root="../data", split=split,
                                                  transform=transform, download=True)

    def __len__(self):
        return len(self.dataset)

    def rand_rotate(self, img):
        angle = random.choice([0, 90, 180, 270])
        return torch.rot90(img, angle // 90, dims=(1, 2)), angle

    def __getitem__(self, idx):
        img, _ = self.dataset[idx]
        return self.rand_rotate(img)
