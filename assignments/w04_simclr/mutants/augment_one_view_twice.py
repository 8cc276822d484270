"""Augment draws one random view and returns it twice: every positive pair is trivial."""
# expect: Augment


class Augment:
    def __init__(self, img_size):
        self.train_transform = T.Compose([
            T.RandomResizedCrop(size=img_size, scale=(0.1, 1.0)),
            T.RandomHorizontalFlip(p=0.5),
            T.RandomApply([T.ColorJitter(0.8, 0.8, 0.8, 0.2)], p=0.8),
            T.GaussianBlur(kernel_size=3, sigma=(0.1, 2.0)),
            T.ToTensor(),
            T.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ])

    def __call__(self, x):
        view = self.train_transform(x)
        return view, view
