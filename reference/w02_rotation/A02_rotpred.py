# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Week 2 - Predicting image rotations as a pretext task
#
# Labels are expensive, but a label we create ourselves is free: rotate an unlabeled
# image by a quarter turn (or two, or three) and ask a network which rotation it was.
# To answer, the network has to know what an upright object looks like, and the
# features it builds for that turn out to be useful for real classification.
#
# 1. Imports
# 2. A dataset of rotated STL10 images
# 3. A ResNet18 that predicts rotations
# 4. Pretext training
# 5. Looking at predictions
# 6. Rotation accuracy on the validation split
# 7. Features from the layer before the classifier
# 8. Linear probing
# 9. t-SNE of the features
#
# Reading: Gidaris, Singh and Komodakis, *Unsupervised Representation Learning by
# Predicting Image Rotations* (ICLR 2018), https://arxiv.org/abs/1803.07728
#
# Fill in every region between `### START CODE HERE ###` and `### END CODE HERE ###`.
# Keep the names and signatures as they are: the grader calls them.

# %% [markdown]
# ## 1. Imports

# %%
import os
import copy
import random
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
import torchvision
import matplotlib.pyplot as plt
from torch.utils.data import DataLoader, Dataset, TensorDataset
from torchvision import transforms as T
from tqdm import tqdm

from utils import *

# %% [markdown]
# ## 2. A dataset of rotated STL10 images
#
# `STL10Rot` wraps `torchvision.datasets.STL10`. Item `idx` is the image `idx`
# of the split after `transform`, turned by a random multiple of 90 degrees,
# together with the rotation class instead of the object label:
#
# | class | rotation |
# |---|---|
# | 0 | none |
# | 1 | 90° counter-clockwise |
# | 2 | 180° |
# | 3 | 270° counter-clockwise (= 90° clockwise) |
#
# "Counter-clockwise" is the convention of `torch.rot90(img, k, dims=(1, 2))` on a
# CHW tensor and of `torchvision.transforms.functional.rotate(img, 90 * k)`.
# `rand_rotate` draws the class uniformly and returns `(rotated_image, class)`.

# %%
class STL10Rot(Dataset):
    def __init__(self, split="unlabeled", transform=None):
        super(STL10Rot, self).__init__()
        ### START CODE HERE ### (≈ 3 lines)
        self.dataset = torchvision.datasets.STL10(root="../data", split=split,
                                                  transform=transform, download=True)
        ### END CODE HERE ###

    def __len__(self):
        return len(self.dataset)

    def rand_rotate(self, img):
        ### START CODE HERE ### (≈ 3 lines)
        rot_class = random.randint(0, 3)
        # dims (1, 2) are height and width of a CHW tensor; dim 0 holds the channels
        rotated = torch.rot90(img, rot_class, dims=(1, 2))
        ### END CODE HERE ###
        return rotated, rot_class

    def __getitem__(self, idx):
        ### START CODE HERE ### (≈ 3 lines)
        img, _ = self.dataset[idx]  # the object label is not used by the pretext task
        img, rot_class = self.rand_rotate(img)
        ### END CODE HERE ###
        return img, rot_class


def load_data(batch_size=128, train_split="unlabeled", test_split="test", rotation=True):
    """Train and validation loaders over STL10, rotated (pretext) or labelled."""
    transf = T.Compose([T.ToTensor()])
    if rotation:
        train_ds = STL10Rot(split=train_split, transform=transf)
        val_ds = STL10Rot(split=test_split, transform=transf)
    else:
        train_ds = torchvision.datasets.STL10(root="../data", split=train_split,
                                              transform=transf, download=True)
        val_ds = torchvision.datasets.STL10(root="../data", split=test_split,
                                            transform=transf, download=True)
    train_dl = DataLoader(train_ds, batch_size=batch_size, shuffle=True)
    val_dl = DataLoader(val_ds, batch_size=batch_size, shuffle=False)
    return train_dl, val_dl


def test_load_data():
    train_dl, val_dl = load_data(batch_size=4)
    for loader in (train_dl, val_dl):
        x, y = next(iter(loader))
        print(x.shape, y)
        plt.figure(figsize=(6, 6))
        imshow(x[0])


test_load_data()

# %% [markdown]
# ## 3. A ResNet18 that predicts rotations
#
# Take torchvision's ResNet18, randomly initialised (no pretrained weights: the
# point is to learn from unlabeled data), and make it answer with one logit per
# rotation class. Which layer decides how many outputs there are?

# %%
def load_resnet():
    ### START CODE HERE ### (≈ 3 lines)
    model = torchvision.models.resnet18(weights=None)
    # the classifier head is the only part tied to ImageNet's 1000 classes
    model.fc = nn.Linear(model.fc.in_features, 4)
    ### END CODE HERE ###
    return model


def test_load_resnet():
    model = load_resnet()
    train_dl, _ = load_data(batch_size=4)
    x, target = next(iter(train_dl))
    y = model(x)
    loss = F.cross_entropy(y, target)
    print(y.shape, target.shape, loss)


test_load_resnet()

# %% [markdown]
# ## 4. Pretext training
#
# Train with `pretrain` from `utils.py` (imported above). It keeps the checkpoint
# with the lowest validation loss in `best_model_min_val_loss.pth`. On one GPU the
# course setup needs a bit under an hour and reaches a training loss around 0.04
# and a validation loss around 0.08.

# %%
### START CODE HERE ### (≈ 6 lines)
device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
train_dl, val_dl = load_data(batch_size=128)
model = load_resnet().to(device)
optimizer = optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-5)
dict_log = pretrain(model, optimizer, 15, train_dl, val_dl, nn.CrossEntropyLoss(), device)
### END CODE HERE ###

# %% [markdown]
# ## 5. Looking at predictions
#
# Load the best checkpoint with `load_model` and show 16 rotated validation images
# in a 4x4 grid, each titled with the predicted and the true rotation in degrees.

# %%
### START CODE HERE ### (≈ 15 lines)
model = load_model(load_resnet(), "best_model_min_val_loss.pth").to(device)
model.eval()
images, rot_classes = next(iter(val_dl))
images, rot_classes = images[:16], rot_classes[:16]
with torch.no_grad():
    predicted = model(images.to(device)).argmax(dim=1).cpu()
plt.figure(figsize=(10, 10))
for i in range(16):
    plt.subplot(4, 4, i + 1)
    imshow(images[i])
    plt.title(f"pred {90 * int(predicted[i])}°, true {90 * int(rot_classes[i])}°")
    plt.axis("off")
plt.tight_layout()
plt.show()
### END CODE HERE ###

# %% [markdown]
# ## 6. Rotation accuracy on the validation split
#
# `compute_val_accuracy` returns the percentage of validation images whose rotation
# the model predicts correctly (counted over images, not averaged over batches) and
# the mean of the per-batch cross-entropy losses. Evaluate in eval mode and without
# gradients.

# %%
def compute_val_accuracy(model, val_loader, device):
    ### START CODE HERE ### (≈ 6 lines of code)
    model.eval()
    correct, total, losses = 0, 0, []
    with torch.no_grad():
        for images, targets in val_loader:
            images, targets = images.to(device), targets.to(device)
            logits = model(images)
            losses.append(F.cross_entropy(logits, targets).item())
            correct += (logits.argmax(dim=1) == targets).sum().item()
            total += targets.numel()
    val_acc = 100.0 * correct / total
    val_loss = float(np.mean(losses))
    ### END CODE HERE ###
    return val_acc, val_loss


val_acc, val_loss = compute_val_accuracy(model, val_dl, device)
print(f"Val Accuracy {val_acc:.2f} || Loss Val {val_loss:.3f}")

# %% [markdown]
# Expected on the full STL10 test split: about 98 % accuracy (the course's run
# printed 97.99 with a loss of 0.070).

# %% [markdown]
# ## 7. Features from the layer before the classifier
#
# `extract_features` returns the features of every image of `dataloader` taken
# just before the final fully-connected layer (the 512 outputs of the global
# average pool), flattened to one row per image, together with the labels. Use
# `get_features` from `utils.py`. Load the images with `rotation=False` to get the
# object labels.

# %%
def extract_features(model, dataloader, device):
    ### START CODE HERE ### (≈ 4 lines of code)
    backbone = copy.deepcopy(model)
    # replacing the head by an identity exposes what the head would have seen
    backbone.fc = nn.Identity()
    feats, labels = get_features(backbone, dataloader, device)
    ### END CODE HERE ###
    return feats, labels


train_dl, val_dl = load_data(batch_size=256, train_split="train", test_split="test",
                             rotation=False)
model.eval()
train_feats, train_labels = extract_features(model, train_dl, device)
val_feats, val_labels = extract_features(model, val_dl, device)
torch.save(train_feats, "train_feats.pth")
torch.save(val_feats, "val_feats.pth")
torch.save(train_labels, "train_labels.pth")
torch.save(val_labels, "val_labels.pth")

# %% [markdown]
# ## 8. Linear probing
#
# The features are frozen: only a single linear layer is trained on top of them, so
# its accuracy measures how linearly separable the ten STL10 classes already are.
# `linear_probe_setup` returns everything `linear_eval` from `utils.py` needs: the
# classifier (one `nn.Linear` from the feature size to the 10 classes), an optimizer
# over the classifier's parameters only, a shuffled training loader and an
# unshuffled validation loader over the feature tensors.

# %%
def linear_probe_setup(train_feats, train_labels, val_feats, val_labels, batch_size=256):
    ### START CODE HERE ### (≈ 10 lines of code)
    num_classes = 10
    classifier = nn.Linear(train_feats.shape[1], num_classes)
    optimizer = optim.Adam(classifier.parameters(), lr=1e-3, weight_decay=1e-4)
    train_loader = DataLoader(TensorDataset(train_feats, train_labels), batch_size=batch_size,
                              shuffle=True)
    val_loader = DataLoader(TensorDataset(val_feats, val_labels), batch_size=batch_size,
                            shuffle=False)
    ### END CODE HERE ###
    return classifier, optimizer, train_loader, val_loader


classifier, probe_optimizer, probe_train_dl, probe_val_dl = linear_probe_setup(
    train_feats, train_labels, val_feats, val_labels)
probe_log = linear_eval(classifier, probe_optimizer, 50, probe_train_dl, probe_val_dl, device)

# %% [markdown]
# Expected on the full STL10 after 50 probe epochs (a few seconds): about 64 %
# training and 60 % validation accuracy (the course's run: 60.33 % validation).

# %% [markdown]
# ## 9. t-SNE of the features
#
# Embed the validation features in two dimensions with t-SNE and colour each point
# by its class.

# %%
from sklearn.manifold import TSNE


def tsne_plot_embeddings(features, labels, class_names):
    plt.figure(figsize=(12, 12))
    ### START CODE HERE ### (≈ 6 line of code)
    points = TSNE(n_components=2, metric="cosine", init="pca",
                  perplexity=min(30.0, (len(features) - 1) / 3)).fit_transform(
                      torch.as_tensor(features).cpu().numpy())
    labels = torch.as_tensor(labels).cpu().numpy()
    for class_idx in range(len(class_names)):
        chosen = labels == class_idx
        plt.scatter(points[chosen, 0], points[chosen, 1], s=6)
    ### END CODE HERE ###
    plt.legend(class_names, fontsize=18, loc="center left", bbox_to_anchor=(1.05, 0.5))
    plt.title("t-SNE of STL10 features learned by rotation prediction", fontsize=18)
    plt.axis("off")
    plt.savefig("tsne_plot_embeddings_solution.png", bbox_inches="tight")
    plt.show()


val_feats, val_labels = torch.load("val_feats.pth"), torch.load("val_labels.pth")
class_names = torchvision.datasets.STL10(root="../data").classes
tsne_plot_embeddings(val_feats, val_labels, class_names)

# %% [markdown]
# Are the classes separated in the plot? Which ones mix, and why might a network that
# only learned which way is up confuse them?
#
# Further reading:
#
# - fast.ai, *Self-supervised learning and computer vision* (2020)
# - Ericsson et al., *Self-Supervised Representation Learning: Introduction, Advances
#   and Challenges* (2021), https://arxiv.org/abs/2110.09327
