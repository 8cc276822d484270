"""Augment flips vertically and applies the colour jitter to every image."""
# expect: Augment


class Augment:
    def __init__(self, img_size):
        self.train_transform = T.Compose([
            T.RandomResizedCrop(size=img_size, scale=(0.1, 1.0)),
            T.RandomVerticalFlip(p=0.5),
            T.ColorJitter(brightness=0.8, contrast=0.8, saturation=0.8, hue=0.2),
            T.GaussianBlur(kernel_size=3, sigma=(0.1, 2.0)),
            T.ToTensor(),
            T.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ])

    def __call__(self, x):
        return self.train_transform(x), self.train_transform(x)
