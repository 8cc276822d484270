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
# # Week 1 - Autoencoders as feature learners
#
# You will build a convolutional autoencoder, train it to reconstruct STL10
# images, and then check how useful its bottleneck is by fitting a linear
# classifier on top of it.
#
# 1. Data
# 2. The autoencoder
# 3. Validation and training
# 4. Reconstructions
# 5. Linear probing of the bottleneck
#
# Fill in every region between `### START CODE HERE ###` and `### END CODE HERE ###`.
# Keep the names and signatures as they are: the grader calls them.

# %%
import numpy as np
import torch
import torch.nn as nn
import torchvision
import torch.optim as optim
import matplotlib.pyplot as plt
from torchvision import transforms as T
from tqdm import tqdm
from torch.utils.data import DataLoader

# %load_ext autoreload
# %autoreload 2

# %% [markdown]
# ## 1. Data
#
# `load_data` returns a training and a validation `DataLoader` over
# `torchvision.datasets.STL10`. Convert images to tensors in [0, 1] (the decoder
# ends with a sigmoid), shuffle the training loader only.

# %%
def load_data(batch_size=128, train_split="unlabeled", test_split="test"):
    """Returns a train and validation dataloader for STL10 dataset"""
    ### START CODE HERE ### (≈ 6 lines of code)
    to_tensor = T.ToTensor()
    train_ds = torchvision.datasets.STL10(root="../data", split=train_split,
                                          transform=to_tensor, download=True)
    val_ds = torchvision.datasets.STL10(root="../data", split=test_split,
                                        transform=to_tensor, download=True)
    train_dl = DataLoader(train_ds, batch_size=batch_size, shuffle=True)
    val_dl = DataLoader(val_ds, batch_size=batch_size, shuffle=False)
    ### END CODE HERE ###
    return train_dl, val_dl


def plot_img(img, mean=0, std=1):
    """Show a CHW tensor after undoing a normalisation with `mean` and `std`."""
    mean = torch.as_tensor(mean, dtype=torch.float32).reshape(-1, 1, 1)
    std = torch.as_tensor(std, dtype=torch.float32).reshape(-1, 1, 1)
    plt.imshow((img * std + mean).clamp(0, 1).permute(1, 2, 0).numpy())


def test_load_data():
    train_dl, val_dl = load_data(batch_size=16)
    for loader in (train_dl, val_dl):
        x, y = next(iter(loader))
        print(x.shape, y.shape)
        plt.figure(figsize=(4, 4))
        plot_img(x[0])


test_load_data()

# %% [markdown]
# ## 2. The autoencoder
#
# - Encoder: `n_layers` convolutions, each followed by a ReLU. The first has
#   `base_channels` output channels and every further one doubles them.
# - Decoder: `n_layers` transposed convolutions mirroring the encoder, halving the
#   channels each time and ending with `in_channels` channels. ReLU between
#   layers, a sigmoid after the last one.
# - All layers share `kernel_size`, `stride` and `padding`; with kernel 3, stride 2
#   and padding 1 every encoder layer halves the height and width.

# %%
class Autoencoder(nn.Module):
    def __init__(self, in_channels, base_channels, n_layers, kernel_size, stride, padding):
        """Builds the autoencoder model

        Args:
            in_channels: number of input channels (3 for RGB images)
            base_channels: channel multiplier
            n_layers: number of conv/transp_conv layers in the encoder/decoder
            kernel_size: kernel size for the conv/transp_conv layers
            stride: stride for the conv/transp_conv layers
            padding: padding for the conv/transp_conv layers
        """
        super(Autoencoder, self).__init__()
        enc_layers = nn.ModuleList()
        dec_layers = nn.ModuleList()
        ### START CODE HERE ### (≈ 23 lines of code)
        widths = [in_channels] + [base_channels * 2**i for i in range(n_layers)]
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            enc_layers.append(nn.Conv2d(c_in, c_out, kernel_size, stride, padding))
            enc_layers.append(nn.ReLU())
        # the extra row/column a strided transposed conv needs to undo the halving
        output_padding = (kernel_size - 2 * padding) % stride
        backwards = widths[::-1]
        for i, (c_in, c_out) in enumerate(zip(backwards[:-1], backwards[1:])):
            dec_layers.append(nn.ConvTranspose2d(c_in, c_out, kernel_size, stride, padding,
                                                 output_padding=output_padding))
            last = i == n_layers - 1
            dec_layers.append(nn.Sigmoid() if last else nn.ReLU())
        ### END CODE HERE ###
        self.encoder = nn.Sequential(*enc_layers)
        self.decoder = nn.Sequential(*dec_layers)

    def forward(self, x):
        bottleneck = self.encoder(x)
        reconstruction = self.decoder(bottleneck)
        return reconstruction

    def encode(self, x):
        return self.encoder(x)

    ### START CODE HERE ### (≈ 4 lines of code)
    def decode(self, z):
        return self.decoder(z)
    ### END CODE HERE ###


def test_Autoencoder():
    autoencoder = Autoencoder(in_channels=5, base_channels=4, n_layers=4,
                              kernel_size=3, stride=2, padding=1)
    x = torch.randn(1, 5, 32, 32)
    assert autoencoder(x).shape == x.shape, "the reconstruction must have the input's shape"
    assert autoencoder.encode(x).shape == (1, 32, 2, 2), "Bottleneck shape is not correct"
    print("Autoencoder test passed!")


test_Autoencoder()

# %% [markdown]
# ## 3. Validation and training
#
# `validate` returns the mean of the per-batch losses over one pass of
# `val_loader`, computed without gradients and with the model in eval mode.

# %%
def validate(model, val_loader, criterion, device):
    ### START CODE HERE ### (≈ 10 lines of code)
    model.eval()
    losses = []
    with torch.no_grad():
        for images, _ in val_loader:
            images = images.to(device)
            losses.append(criterion(model(images), images).item())
    val_loss_epoch = float(np.mean(losses))
    ### END CODE HERE ###
    return val_loss_epoch


# %% [markdown]
# `train_one_epoch` makes one optimisation pass over `train_loader` (model in
# train mode, gradients cleared before every step) and returns the mean batch loss.

# %%
def train_one_epoch(model, optimizer, train_loader, criterion, device):
    ### START CODE HERE ### (≈ 12 lines of code)
    model.train()
    losses = []
    for images, _ in train_loader:
        images = images.to(device)
        optimizer.zero_grad()
        loss = criterion(model(images), images)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    loss_curr_epoch = float(np.mean(losses))
    ### END CODE HERE ###
    return loss_curr_epoch


# %% [markdown]
# `train` alternates the two, records both losses of every epoch in `dict_log`,
# and saves a checkpoint whenever the validation loss reaches a new minimum.

# %%
def save_model(model, path, epoch, optimizer, val_loss):
    torch.save({
        "epoch": epoch,
        "model_state_dict": model.state_dict(),
        "optimizer_state_dict": optimizer.state_dict(),
        "loss": val_loss,
    }, path)


def train(model, optimizer, num_epochs, train_loader, val_loader, criterion, device):
    dict_log = {"train_loss": [], "val_loss": []}
    ### START CODE HERE ### (≈ 12 lines of code)
    best_val_loss = float("inf")
    for epoch in range(num_epochs):
        train_loss = train_one_epoch(model, optimizer, train_loader, criterion, device)
        val_loss = validate(model, val_loader, criterion, device)
        dict_log["train_loss"].append(train_loss)
        dict_log["val_loss"].append(val_loss)
        if val_loss < best_val_loss:
            best_val_loss = val_loss
            save_model(model, "best_model_min_val_loss.pth", epoch, optimizer, val_loss)
    ### END CODE HERE ###
    return dict_log


# %% [markdown]
# ## Launch training
#
# Pick the hyper-parameters and train. On a GPU, 40 epochs over the unlabeled
# split take about half an hour.

# %%
### START CODE HERE ###
device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
train_dl, val_dl = load_data(batch_size=128)
model = Autoencoder(in_channels=3, base_channels=16, n_layers=4,
                    kernel_size=3, stride=2, padding=1).to(device)
optimizer = optim.Adam(model.parameters(), lr=1e-3)
dict_log = train(model, optimizer, 40, train_dl, val_dl, nn.MSELoss(), device)
### END CODE HERE ###

# %% [markdown]
# ## 4. Reconstructions
#
# Load the best checkpoint, reconstruct a few validation images, and show the
# per-pixel L1 and L2 errors next to them.

# %%
def load_model(model, path):
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(checkpoint["model_state_dict"])
    print(f"Loaded {path}: epoch {checkpoint['epoch']}, validation loss {checkpoint['loss']:.4f}")
    return model


def get_reconstruction(autoencoder, img_batch):
    autoencoder.eval()
    with torch.no_grad():
        return autoencoder.to(device)(img_batch.to(device)).cpu()


### START CODE HERE ### (≈ 8 lines of code)
model = load_model(model, "best_model_min_val_loss.pth")
img_batch, _ = next(iter(val_dl))
img_batch = img_batch[:4]
reconstructions = get_reconstruction(model, img_batch)
l1_diff = (img_batch - reconstructions).abs().mean(dim=1)
l2_diff = ((img_batch - reconstructions) ** 2).mean(dim=1)
### END CODE HERE ###

rows = img_batch.shape[0]
plt.figure(figsize=(12, 3 * rows))
for i in range(rows):
    for j, (title, picture) in enumerate([("original", img_batch[i]),
                                          ("reconstruction", reconstructions[i])]):
        plt.subplot(rows, 4, 4 * i + j + 1)
        plot_img(picture)
        plt.title(title)
    for j, (title, diff) in enumerate([("L1", l1_diff[i]), ("L2", l2_diff[i])]):
        plt.subplot(rows, 4, 4 * i + j + 3)
        plt.imshow(diff, cmap="gray")
        plt.title(title)
plt.show()

# %% [markdown]
# ## 5. Linear probing
#
# Freeze the encoder, extract bottleneck features of the labelled `train` and
# `test` splits, and fit a single linear layer on them.

# %%
# Provided
def get_features(model, dataloader, device):
    model = model.to(device)
    feats, labs = [], []
    with torch.no_grad():
        for images, labels in dataloader:
            feats.append(model(images.to(device)).flatten(start_dim=1).cpu())
            labs.append(labels.cpu())
    return torch.cat(feats), torch.cat(labs)


### START CODE HERE ### (≈ 8 lines of code)
probe_train_dl, probe_val_dl = load_data(batch_size=256, train_split="train", test_split="test")
train_feats, train_labels = get_features(model.encoder, probe_train_dl, device)
val_feats, val_labels = get_features(model.encoder, probe_val_dl, device)
### END CODE HERE ###

# %%
### START CODE HERE ### (≈ 100 lines of code)
def probe_loaders(batch_size=256):
    """Feature loaders for the linear probe, standardised with training statistics."""
    mean, std = train_feats.mean(0), train_feats.std(0) + 1e-6
    train_set = torch.utils.data.TensorDataset((train_feats - mean) / std, train_labels)
    val_set = torch.utils.data.TensorDataset((val_feats - mean) / std, val_labels)
    return (DataLoader(train_set, batch_size=batch_size, shuffle=True),
            DataLoader(val_set, batch_size=batch_size))


def accuracy(classifier, loader):
    classifier.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (classifier(x.to(device)).argmax(1).cpu() == y).sum().item()
            total += len(y)
    return 100.0 * correct / total


probe_train, probe_val = probe_loaders()
classifier = nn.Linear(train_feats.shape[1], 10).to(device)
probe_opt = optim.Adam(classifier.parameters(), lr=1e-3, weight_decay=1e-4)
for epoch in range(30):
    classifier.train()
    for x, y in probe_train:
        probe_opt.zero_grad()
        loss = nn.functional.cross_entropy(classifier(x.to(device)), y.to(device))
        loss.backward()
        probe_opt.step()
    print(f"Ep {epoch + 1}/30: Accuracy : Train:{accuracy(classifier, probe_train):.2f} "
          f"\t Val:{accuracy(classifier, probe_val):.2f}")
### END CODE HERE ###

# %% [markdown]
# Expected on the full STL10 (under a minute of probe training): about 68 %
# training and 47 % validation accuracy after 30 epochs.
