"""rand_rotate calls torch.rot90 with its default dims, turning channels into rows.

torch.rot90 rotates dims (0, 1) unless told otherwise; on a CHW tensor that mixes the
channel axis with the height axis.
"""
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
        return torch.rot90(img, k), k

    def __getitem__(self, idx):
        img, _ = self.dataset[idx]
        return self.rand_rotate(img)
