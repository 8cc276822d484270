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
# # Week 4 - SimCLR: contrastive pretraining of a ResNet18 on STL10
#
# SimCLR learns features without labels: two random augmentations of the same
# image must map close together, while all other images of the batch are pushed
# away. You will build every piece of it, pretrain on the unlabeled split of
# STL10, and then find out how much the learned weights are worth.
#
# 1. Preparation and imports
# 2. The augmentation pipeline (two views per image)
# 3. The contrastive loss (NT-Xent)
# 4. ResNet18 with a projection head
# 5. Training with gradient accumulation and mixed precision
# 6. Launching the pretraining
# 7. Linear probing and a t-SNE picture of the features
# 8. SimCLR versus ImageNet weights versus random initialisation
# 9. Plotting the three fine-tuning curves
#
# Fill in every region between `### START CODE HERE ###` and `### END CODE HERE ###`.
# Keep the names and signatures as they are: the grader calls them.

# %% [markdown]
# ## 1. Preparation and imports

# %%
import os
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
import torchvision.models as models
import torchvision.transforms as T
from torchvision.datasets import STL10
from torch.utils.data import DataLoader
from torch.optim import Adam

# the helper module of the course: load_model, save_model, linear_eval, get_features,
# define_param_groups, tsne_plot_embeddings, reproducibility, ...
from utils import *

# %% [markdown]
# ## 2. The augmentation pipeline
#
# `Augment(img_size)` is a transform: called on one PIL image it returns two
# independently augmented tensors of the same image, a *positive pair*. Use
#
# - a random resized crop to `img_size` x `img_size`, keeping 10 % to 100 % of the image;
# - a random flip with probability 0.5 (pick the direction that keeps a natural image
#   natural);
# - colour jitter applied with probability 0.8: brightness, contrast and saturation
#   scaled by a factor in [0.2, 1.8], hue shifted by up to 0.2;
# - a Gaussian blur with a 3 x 3 kernel and a standard deviation drawn from [0.1, 2.0];
# - conversion to a tensor and normalisation with a sensible mean and std.
#
# The order is yours to choose. `load_data` builds the STL10 loaders for two splits
# with the given transform; the training loader reshuffles every epoch.

# %%
# ImageNet statistics: the same normalisation serves the ImageNet-initialised model later
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


class Augment:
    """Random augmentation that turns one image into a positive pair of views."""
    def __init__(self, img_size):
        ### START CODE HERE ### (≈ 5 lines of code)
        colour = T.ColorJitter(brightness=0.8, contrast=0.8, saturation=0.8, hue=0.2)
        self.train_transform = T.Compose([
            T.RandomResizedCrop(size=img_size, scale=(0.1, 1.0)),
            T.RandomHorizontalFlip(p=0.5),
            T.RandomApply([colour], p=0.8),
            T.GaussianBlur(kernel_size=3, sigma=(0.1, 2.0)),
            T.ToTensor(),
            T.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ])

    def __call__(self, x):
        # two independent draws of the same random pipeline
        return self.train_transform(x), self.train_transform(x)
    ### END CODE HERE ###


def load_data(batch_size=128, train_split="unlabeled", test_split="test", transf=T.ToTensor()):
    # STL10 loaders of two splits, both with the transform `transf`
    ### START CODE HERE ### (≈ 6 lines of code)
    train_ds = STL10(root="../data", split=train_split, transform=transf, download=True)
    val_ds = STL10(root="../data", split=test_split, transform=transf, download=True)
    # full batches only: the contrastive loss is built for a fixed batch size
    train_dl = DataLoader(train_ds, batch_size=batch_size, shuffle=True, drop_last=True)
    val_dl = DataLoader(val_ds, batch_size=batch_size, shuffle=False)
    ### END CODE HERE ###
    return train_dl, val_dl


# %% [markdown]
# Look at a few positive pairs before going on.

# %%
def show_pairs(n_pairs=4, img_size=64):
    loader, _ = load_data(batch_size=n_pairs, transf=Augment(img_size))
    (view_1, view_2), _ = next(iter(loader))
    plt.figure(figsize=(2 * n_pairs, 4))
    for i in range(n_pairs):
        for row, view in enumerate((view_1, view_2)):
            plt.subplot(2, n_pairs, row * n_pairs + i + 1)
            imshow(view[i], mean=IMAGENET_MEAN, std=IMAGENET_STD)
            plt.axis("off")
    plt.show()


show_pairs()

# %% [markdown]
# ## 3. The contrastive loss (NT-Xent)
#
# With $N$ images in a batch there are $2N$ views. Write $s_{ik}$ for the cosine
# similarity of the projections of views $i$ and $k$, and $j(i)$ for the other view of
# the same image. The loss of view $i$ is
#
# $$\ell_i = -\log \frac{\exp(s_{i\,j(i)}/\tau)}{\sum_{k \neq i} \exp(s_{ik}/\tau)},$$
#
# a cross-entropy over the $2N - 1$ other views whose correct answer is $j(i)$.
# `ContrastiveLoss(batch_size, temperature)` returns the mean of $\ell_i$ over all $2N$
# views. A view is never compared with itself: its similarity is 1 whatever the
# model does, so it would only add a constant to every denominator.
#
# Normalise the projections to unit length first: the loss should depend on their
# directions only.

# %%
class ContrastiveLoss(nn.Module):
    """NT-Xent (normalised temperature-scaled cross-entropy) of SimCLR."""
    ### START CODE HERE ###  (≈ 19 lines of code)
    def __init__(self, batch_size, temperature=0.5):
        super().__init__()
        self.batch_size = batch_size
        self.temperature = temperature

    def forward(self, proj_1, proj_2):
        """Loss of two [batch, dim] projections whose rows i form the positive pairs."""
        n = proj_1.shape[0]
        z = F.normalize(torch.cat([proj_1, proj_2], dim=0), dim=1)
        logits = z @ z.T / self.temperature
        self_pairs = torch.eye(2 * n, dtype=torch.bool, device=z.device)
        logits = logits.masked_fill(self_pairs, float("-inf"))
        # view i of the first half pairs with view i + n, and the other way round
        positives = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
        loss = F.cross_entropy(logits, positives)
        return loss  # a 0-dim tensor
    ### END CODE HERE ###


def test_ContrastiveLoss():
    batch_size, temperature = 8, 0.1
    criterion = ContrastiveLoss(batch_size, temperature)
    loss = criterion(torch.rand(batch_size, 128), torch.rand(batch_size, 128))
    assert loss.shape == torch.Size([]), "the loss must be a scalar"
    assert loss.item() >= 0, "a cross-entropy cannot be negative"
    print("ContrastiveLoss test passed!")


test_ContrastiveLoss()

# %% [markdown]
# ## 4. ResNet18 with a projection head
#
# The backbone is torchvision's `resnet18` with its classification layer removed, so
# that it returns 512 features per image. The projection head on top is
#
# ```
# Linear(512, 512, bias=False) -> BatchNorm1d(512) -> ReLU
#   -> Linear(512, embedding_size, bias=False) -> BatchNorm1d(embedding_size)
# ```
#
# (the batch norms make the biases redundant). `forward(x)` returns the projection,
# `forward(x, return_embedding=True)` the backbone features, which are what we keep
# after pretraining.

# %%
class ResNetSimCLR(nn.Module):
    def __init__(self, embedding_size=128):
        super(ResNetSimCLR, self).__init__()
        ### START CODE HERE ### (≈ 10 lines of code)
        self.backbone = models.resnet18(weights=None)
        features = self.backbone.fc.in_features
        self.backbone.fc = nn.Identity()
        self.projection = nn.Sequential(
            nn.Linear(features, features, bias=False),
            nn.BatchNorm1d(features),
            nn.ReLU(),
            nn.Linear(features, embedding_size, bias=False),
            nn.BatchNorm1d(embedding_size),
        )

    def forward(self, x, return_embedding=False):
        embedding = self.backbone(x)
        if return_embedding:
            return embedding
        return self.projection(embedding)
    ### END CODE HERE ###


def test_ResNetSimCLR():
    model = ResNetSimCLR(embedding_size=128)
    x = torch.randn(2, 3, 64, 64)
    assert model(x).shape == (2, 128), "the projection has the wrong shape"
    assert model(x, return_embedding=True).shape == (2, 512), "the embedding has the wrong shape"
    print("ResNetSimCLR test passed!")


test_ResNetSimCLR()

# %% [markdown]
# ## 5. Gradient accumulation and mixed precision
#
# `training_step` takes one batch of the loader, `((view_1, view_2), labels)`, runs
# both views through the model and returns the contrastive loss (labels are unused).
#
# `pretrain_one_epoch_grad_acc` makes one pass over the loader. With `accum_iter = k`
# it lets the gradients of `k` consecutive batches add up before one optimizer step, so
# the effective batch is `k` times larger; each batch loss is divided by `k` so that
# the accumulated gradient is their mean. It returns the mean of the *unscaled* batch
# losses. With `amp=True` the forward pass runs under autocast (float16 with a gradient
# scaler on a GPU, bfloat16 on a CPU, where no scaler is needed).

# %%
def training_step(model, loss_function, data):
    ### START CODE HERE ### (≈ 5 lines of code)
    (view_1, view_2), _ = data
    device = next(model.parameters()).device
    # one forward pass over both views: batch norm sees all 2N images together
    projections = model(torch.cat([view_1, view_2]).to(device))
    proj_1, proj_2 = projections.chunk(2)
    loss = loss_function(proj_1, proj_2)
    ### END CODE HERE ###
    return loss


def pretrain_one_epoch_grad_acc(model, loss_function, train_dataloader,
                                optimizer, device, accum_iter=1, amp=False):
    model.train()
    total_loss = 0
    num_batches = len(train_dataloader)
    optimizer.zero_grad()
    device = torch.device(device)
    # a gradient scaler guards float16 gradients; bfloat16 on a CPU needs none
    scaler = torch.amp.GradScaler("cuda", enabled=amp and device.type == "cuda")
    for batch_idx, data in enumerate(train_dataloader):
        ### START CODE HERE ### ( > 6 lines of code)
        if amp:
            dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
            with torch.autocast(device.type, dtype=dtype):
                loss = training_step(model, loss_function, data)
        else:
            loss = training_step(model, loss_function, data)
        # the k scaled losses of a group add up to their mean gradient
        loss = loss / accum_iter
        scaler.scale(loss).backward()

        # weights update
        if (batch_idx + 1) % accum_iter == 0 or batch_idx + 1 == num_batches:
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad()

        # scale back the loss
        total_loss += loss.item() * accum_iter
        ### END CODE HERE ###
    return total_loss / num_batches


def pretrain(model, optimizer, num_epochs, train_loader, criterion, device, accum_iter=1,
             amp=False):
    dict_log = {"train_loss": []}
    best_loss = float("inf")
    model = model.to(device)
    progress = tqdm(range(num_epochs))
    for epoch in progress:
        train_loss = pretrain_one_epoch_grad_acc(model, criterion, train_loader, optimizer,
                                                 device, accum_iter, amp=amp)
        progress.set_description(f"Ep {epoch}/{num_epochs}: || Loss: Train {train_loss:.3f}")
        dict_log["train_loss"].append(train_loss)
        if train_loss < best_loss:
            best_loss = train_loss
            save_model(model, "best_model_min_train_loss.pth", epoch, optimizer, train_loss)
        if epoch == num_epochs - 1:
            save_model(model, f"last_model_ep{epoch}.pth", epoch, optimizer, train_loss)
    return dict_log


# %% [markdown]
# ## 6. Launching the pretraining
#
# Batch norm parameters are kept out of weight decay (`define_param_groups`). On a
# Colab-class GPU, 100 epochs at 64 x 64 with an effective batch of 512 take a few
# hours; about 50 epochs already give useful features. Save the final weights as
# `simclr.pth`.

# %%
class Hparams:
    def __init__(self):
        self.seed = 77777
        self.device = "cuda:0" if torch.cuda.is_available() else "cpu"
        self.img_size = 64
        self.load = False
        self.batch_size = 512
        self.lr = 3e-4
        self.weight_decay = 1e-6
        self.embedding_size = 128
        self.epochs = 100
        self.accum_iter = 1
        self.amp = True
        ### START CODE HERE ### (≈ 1 line of code)
        self.temperature = 0.5
        ### END CODE HERE ###


### START CODE HERE ### (>10 lines of code)
config = Hparams()
reproducibility(config.seed)
model = ResNetSimCLR(embedding_size=config.embedding_size)
param_groups = define_param_groups(model, config.weight_decay, "adam")
optimizer = Adam(param_groups, lr=config.lr, weight_decay=config.weight_decay)
train_dl, _ = load_data(batch_size=config.batch_size, transf=Augment(config.img_size))
criterion = ContrastiveLoss(config.batch_size, temperature=config.temperature)
dict_log = pretrain(model, optimizer, config.epochs, train_dl, criterion, config.device,
                    accum_iter=config.accum_iter, amp=config.amp)
save_model(model, "simclr.pth", config.epochs - 1, optimizer, dict_log["train_loss"][-1])
### END CODE HERE ###

# %% [markdown]
# ## 7. Linear probing and t-SNE
#
# Freeze the pretrained backbone, extract its 512-d features of the labelled `train`
# and `test` splits (no augmentation, same normalisation), fit a linear classifier on
# them, and look at a t-SNE map of the test features.

# %%
### START CODE HERE ### (> 10 lines of code)
eval_transform = T.Compose([T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
model = load_model(ResNetSimCLR(embedding_size=config.embedding_size), "simclr.pth")
backbone = model.backbone.eval()
probe_train_dl, probe_val_dl = load_data(batch_size=256, train_split="train",
                                         test_split="test", transf=eval_transform)
train_feats, train_labels = get_features(backbone, probe_train_dl, config.device)
val_feats, val_labels = get_features(backbone, probe_val_dl, config.device)

classifier = nn.Linear(train_feats.shape[1], 10)
feature_train_dl = DataLoader(torch.utils.data.TensorDataset(train_feats, train_labels),
                              batch_size=256, shuffle=True)
feature_val_dl = DataLoader(torch.utils.data.TensorDataset(val_feats, val_labels),
                            batch_size=256)
probe_optimizer = Adam(classifier.parameters(), lr=1e-3, weight_decay=1e-4)
probe_log = linear_eval(classifier, probe_optimizer, 200, feature_train_dl, feature_val_dl,
                        config.device)

class_names = probe_val_dl.dataset.classes
tsne_plot_embeddings(val_feats, val_labels, class_names, title="SimCLR features of STL10 test")
### END CODE HERE ###

# %% [markdown]
# Expected on the full data: the best linear-probe validation accuracy is about 78 %
# (the course's run reached 78.41 % after 200 probe epochs, training accuracy near 88 %).

# %% [markdown]
# ## 8. SimCLR versus ImageNet versus random initialisation
#
# `main(mode)` fine-tunes a whole ResNet18 with a fresh 10-way classification layer on
# the labelled `train` split and validates on `test`, starting from
#
# - `'simclr'`: the backbone pretrained above (`simclr.pth`);
# - `'imagenet'`: torchvision's supervised ImageNet weights;
# - `'random'`: a random initialisation.
#
# No augmentation here, only tensor conversion and the normalisation used for
# pretraining.

# %%
def main(mode='simclr'):
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    ### START CODE HERE ### (≈ 15 lines of code)
    transf = T.Compose([T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    train_dl, val_dl = load_data(batch_size=128, train_split="train", test_split="test",
                                 transf=transf)
    if mode == 'random':
        model = models.resnet18(weights=None)
    elif mode == 'imagenet':
        model = models.resnet18(weights=models.ResNet18_Weights.IMAGENET1K_V1)
    elif mode == 'simclr':
        model = load_model(ResNetSimCLR(embedding_size=128), "simclr.pth").backbone
    else:
        raise ValueError(f"unknown mode {mode!r}")
    model.fc = nn.Linear(512, 10)
    ### END CODE HERE ###
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    dict_log = linear_eval(model, optimizer, 20, train_dl, val_dl, device)
    return dict_log


dict_log_simclr = main('simclr')
acc1 = np.max(dict_log_simclr["val_acc_epoch"])
dict_log_in = main('imagenet')
acc2 = np.max(dict_log_in["val_acc_epoch"])
dict_log_ran = main('random')
acc3 = np.max(dict_log_ran["val_acc_epoch"])
print(f"Fine-tuning best results: SimCLR: {acc1:.2f}%, ImageNet: {acc2:.2f} %, "
      f"Random: {acc3:.2f} %")

# %% [markdown]
# Expected on the full data after 20 fine-tuning epochs: SimCLR 77.26 %, ImageNet
# 76.25 %, random initialisation 53.83 % best validation accuracy.
#
# ## 9. The three fine-tuning curves

# %%
plt.figure(figsize=(10, 5))
plt.plot(dict_log_simclr["val_acc_epoch"], label="SimCLR")
plt.plot(dict_log_in["val_acc_epoch"], label="ImageNet")
plt.plot(dict_log_ran["val_acc_epoch"], label="Random")
plt.legend()
plt.xlabel("Epochs")
plt.ylabel("Accuracy")
plt.title("Fine-tuning on STL10")
plt.savefig("fine_tuning_results_stl10.png")
plt.show()

# %% [markdown]
# ## Where to go from here
#
# - Swap Adam for LARS with a linear warm-up and a cosine schedule, pretrain for 200
#   epochs and compare again.
# - Pretrain on CIFAR100 with rotation prediction and with SimCLR: which pretext task
#   transfers better, and why?
