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
# # Week 5 - Clustering images with pretrained features
#
# A self-supervised encoder already places similar images close together. This
# week you turn that geometry into cluster assignments, without any labels:
#
# 1. Imports and helpers
# 2. Loading a MoCo v2 ResNet50 checkpoint
# 3. k-means on the frozen features, scored with Hungarian matching
# 4. A t-SNE picture of the features
# 5. The 50 nearest neighbours of every training image
# 6. A dataset of (image, neighbour) embedding pairs
# 7. The SCAN loss
# 8. The PMI loss of TEMI
# 9. Training code (provided)
# 10. Training a clustering head with SCAN and with PMI
# 11. Evaluating the cluster assignments
#
# Papers: MoCo (arXiv:1911.05722), SimCLR (arXiv:2002.05709), SCAN
# (arXiv:2005.12320), TEMI (arXiv:2303.17896).
#
# Fill in every region between `### START CODE HERE ###` and `### END CODE HERE ###`.
# Keep the names and signatures as they are: the grader calls them.

# %% [markdown]
# ## 1. Imports and helpers

# %%
import os
import copy

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
import torchvision.models as models
import torchvision.transforms as T
import matplotlib.pyplot as plt
from torch.utils.data import DataLoader
from sklearn.cluster import KMeans

from utils import *

os.makedirs("./figs", exist_ok=True)
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

# %% [markdown]
# ## 2. The pretrained MoCo v2 encoder
#
# Download the ResNet50 trained for 800 epochs with MoCo v2:
#
# `wget https://dl.fbaipublicfiles.com/moco/moco_checkpoints/moco_v2_800ep/moco_v2_800ep_pretrain.pth.tar`
#
# The file is a dictionary. Its `arch` entry names the torchvision model, and its
# `state_dict` holds the weights of the query encoder as they were saved from a
# `DataParallel` wrapper around the MoCo module, so every key starts with
# `module.encoder_q.`. MoCo v2 also trained an MLP projection head (`fc.0`, `fc.2`)
# that we do not want: replace the classifier by an identity so the model returns
# the pooled backbone features.

# %%
def load_moco_model(pretrained_path="./moco_v2_800ep_pretrain.pth.tar"):
    ### START CODE HERE ### (≈ 11 lines of code)
    ckpt = torch.load(pretrained_path, map_location="cpu", weights_only=True)
    prefix = "module.encoder_q."
    state_dict = {key[len(prefix):]: value for key, value in ckpt["state_dict"].items()
                  if key.startswith(prefix)}
    model = getattr(models, ckpt["arch"])(weights=None)
    model.fc = nn.Identity()
    # the projection head's keys have nowhere to go: they are the only unexpected ones
    msg = model.load_state_dict(state_dict, strict=False)
    print("Loaded model with message:", msg)
    ### END CODE HERE ###
    model.eval()
    return model


encoder = load_moco_model()

# %% [markdown]
# Expected: no missing keys. The four keys of the projection head may show up as
# unexpected: `unexpected_keys=['fc.0.weight', 'fc.0.bias', 'fc.2.weight', 'fc.2.bias']`.

# %% [markdown]
# ## 3. k-means on the frozen features
#
# Extract the features of the labelled `train` and `test` splits once (keep them:
# later parts reuse them), fit k-means with 10 clusters on the training features
# and predict clusters for both splits. Cluster ids are arbitrary, so accuracy
# needs the best one-to-one matching between clusters and classes (the Hungarian
# algorithm): `compute_clustering_metrics` from `utils.py` does that for you.

# %%
transf = T.Compose([
    T.ToTensor(),
    T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])


def kmeans_accuracy(train_feats, train_labels, val_feats, val_labels, n_clusters=10):
    """Fit k-means on the training features; return (train_acc, val_acc) in percent."""
    ### START CODE HERE ### (≈ 6 lines of code)
    kmeans = KMeans(n_clusters=n_clusters, n_init=10, random_state=0)
    train_preds = kmeans.fit_predict(np.asarray(train_feats, dtype=np.float64))
    val_preds = kmeans.predict(np.asarray(val_feats, dtype=np.float64))
    train_acc = compute_clustering_metrics(np.asarray(train_labels), train_preds,
                                           min_samples_per_class=10)[0]
    val_acc = compute_clustering_metrics(np.asarray(val_labels), val_preds,
                                         min_samples_per_class=10)[0]
    ### END CODE HERE ###
    return train_acc, val_acc


### START CODE HERE ### (≈ 6 lines of code)
train_dl, val_dl = load_data(batch_size=256, train_split="train", test_split="test",
                             transf=transf)
train_feats, train_labels = get_features(encoder, train_dl, device)
val_feats, val_labels = get_features(encoder, val_dl, device)
torch.save(train_feats, "train_feats.pth")
torch.save(train_labels, "train_labels.pth")
torch.save(val_feats, "val_feats.pth")
torch.save(val_labels, "val_labels.pth")
train_acc, val_acc = kmeans_accuracy(train_feats.numpy(), train_labels.numpy(),
                                     val_feats.numpy(), val_labels.numpy())
### END CODE HERE ###
print(f"Train acc: {train_acc:.2f}, Val acc: {val_acc:.2f}")

# %% [markdown]
# Expected on the real data: about 53.6 % on both splits.

# %% [markdown]
# ## 4. t-SNE of the features
#
# `tsne_plot_embeddings` in `utils.py` draws a 2-D t-SNE map coloured by class.

# %%
class_names = torchvision.datasets.STL10(root="../data", split="train", download=True).classes
### START CODE HERE ### (≈ 1 line of code)
tsne_plot_embeddings(val_feats, val_labels, class_names, title="MoCo v2 features (test split)")
### END CODE HERE ###

# %% [markdown]
# ## 5. The 50 nearest neighbours
#
# Measure similarity by the cosine of the angle between feature vectors, and
# return for every training image the indices of its `k` most similar *other*
# images, most similar first (an image is not its own neighbour). Save the result
# next to the features: the pair dataset of part 6 reads both files.

# %%
def knn_indices(feats, k=50):
    """(N, D) features -> (N, k) long tensor of cosine nearest neighbours, self excluded."""
    ### START CODE HERE ### (≈ 5 lines of code)
    unit = F.normalize(torch.as_tensor(feats).float(), dim=1)
    similarity = unit @ unit.T
    # push every image's similarity with itself below any real neighbour's
    similarity.fill_diagonal_(-float("inf"))
    indices = similarity.topk(k, dim=1).indices
    ### END CODE HERE ###
    return indices


def vizualize_pairs(indices, train_ds, n_neighbours=5):
    """Show ten reference images, each followed by its first nearest neighbours."""
    ref_ids = list(range(0, 1000, 100))
    plt.figure(figsize=(2.2 * (n_neighbours + 1), 2.2 * len(ref_ids)))
    for row, ref in enumerate(ref_ids):
        shown = [ref] + [int(i) for i in indices[ref, :n_neighbours]]
        for col, idx in enumerate(shown):
            image, label = train_ds[idx]
            plt.subplot(len(ref_ids), n_neighbours + 1, row * (n_neighbours + 1) + col + 1)
            imshow(image, mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
            plt.title(("query: " if col == 0 else "") + class_names[int(label)], fontsize=9)
            plt.axis("off")
    plt.savefig("./figs/knn_viz.png", bbox_inches="tight", dpi=150)


### START CODE HERE ### (≈ 3 lines of code)
indices = knn_indices(train_feats, k=50)
torch.save(indices, "knn_indices.pth")
vizualize_pairs(indices, train_dl.dataset)
### END CODE HERE ###

# %% [markdown]
# ## 6. A dataset of neighbour pairs
#
# `PairSTL10` reads the saved features and neighbour indices. Item `index` is the
# pair (embedding of image `index`, embedding of one of its neighbours drawn at
# random each time). With `l2_normalize=True` both embeddings have unit length.

# %%
### START CODE HERE ### (≈ 14 lines of code)
class PairSTL10(torch.utils.data.Dataset):
    def __init__(self, indices_path="./knn_indices.pth", embeds_path="./train_feats.pth",
                 l2_normalize=True):
        self.indices = torch.as_tensor(torch.load(indices_path, map_location="cpu")).long()
        embeds = torch.as_tensor(torch.load(embeds_path, map_location="cpu")).float()
        self.embeds = F.normalize(embeds, dim=1) if l2_normalize else embeds

    def __len__(self):
        return len(self.embeds)

    def __getitem__(self, index):
        neighbours = self.indices[index]
        pick = neighbours[torch.randint(len(neighbours), ()).item()]
        return self.embeds[index], self.embeds[pick]
### END CODE HERE ###


def test_get_pair():
    dataset = PairSTL10()
    emb1, emb2 = dataset[16]
    print(emb1.shape, emb2.shape)
    assert emb1.shape == emb2.shape


test_get_pair()
train_loader = torch.utils.data.DataLoader(PairSTL10(), batch_size=128, shuffle=True,
                                           num_workers=4)
data_batch = next(iter(train_loader))

# %% [markdown]
# ## 7. The SCAN loss
#
# SCAN (Eq. 2 of the paper) trains a head that outputs cluster probabilities. Its
# loss has two parts:
#
# - consistency: an image and its neighbour should get the same cluster, so the
#   dot product of their probability vectors should be high; take minus its log,
#   averaged over the batch;
# - a guard against putting everything in one cluster: the entropy of the batch's
#   mean cluster distribution (of the first input) should be high, so *subtract*
#   `alpha` times that entropy.
#
# Inputs are the head's logits for the images and for their neighbours.

# %%
class SCAN(torch.nn.Module):
    def __init__(self, alpha=1):
        super().__init__()
        self.alpha = alpha

    def forward(self, proj_1, proj_2):
        ### START CODE HERE ### (≈ 6 lines of code)
        probs_1 = F.softmax(proj_1, dim=-1)
        probs_2 = F.softmax(proj_2, dim=-1)
        # consistency between an image and its neighbour
        consistency = -torch.log((probs_1 * probs_2).sum(dim=-1)).mean()
        # entropy of the mean assignment: high when clusters are used evenly
        mean_probs = probs_1.mean(dim=0)
        entropy = -(mean_probs * torch.log(mean_probs)).sum()
        loss = consistency - self.alpha * entropy
        ### END CODE HERE ###
        return loss


def test_scan():
    torch.manual_seed(99)
    scan = SCAN(alpha=1)
    proj_1 = torch.randn(100, 128)
    proj_2 = torch.randn(100, 128)
    loss = scan(proj_1, proj_2)
    print(loss)
    assert loss.shape == torch.Size([])


test_scan()

# %% [markdown]
# Expected for `alpha=1`: `tensor(0.0275)`.

# %% [markdown]
# ## 8. The PMI loss
#
# TEMI scores a pair by its pointwise mutual information (Eq. 6-8 of the paper):
# soften both logits with the temperature `temp`, multiply the two cluster
# distributions class by class, raise the product to the power `gamma`, divide by
# the estimated cluster prior, sum over clusters and take the log. The prior (the
# denominator) is an exponential moving average of the batch-mean distribution of
# the second input: it starts uniform and every call updates it with `momentum`
# before it is used. The loss is minus the mean PMI.

# %%
class PMI(torch.nn.Module):
    def __init__(self, gamma=1, momentum=0.99, temp=0.1):
        super().__init__()
        self.gamma = gamma
        self.temp = temp
        self.center = None
        self.momentum = momentum

    ### START CODE HERE ### (≈ 12 lines of code)
    @torch.no_grad()
    def update_ema(self, output):
        """Update exponential moving average of the center (denominator)"""
        batch_center = output.mean(dim=0)
        if self.center is None:
            self.center = torch.full_like(batch_center, 1.0 / batch_center.numel())
        self.center = self.momentum * self.center + (1 - self.momentum) * batch_center

    def forward(self, proj_1, proj_2):
        probs_1 = F.softmax(proj_1 / self.temp, dim=-1)
        probs_2 = F.softmax(proj_2 / self.temp, dim=-1)
        self.update_ema(probs_2)
        joint = (probs_1 * probs_2) ** self.gamma
        pmi = torch.log((joint / self.center).sum(dim=-1))
        return -pmi.mean()
    ### END CODE HERE ###


def test_pmi():
    torch.manual_seed(99)
    criterion = PMI(gamma=1)
    proj_1 = torch.rand(100, 128)
    proj_2 = torch.rand(100, 128)
    loss = criterion(proj_1, proj_2)
    print(loss)
    assert loss.shape == torch.Size([])


test_pmi()

# %% [markdown]
# Expected: `tensor(0.0738)`.

# %% [markdown]
# ## 9. Training code (provided)
#
# Read it once: the second view of every pair goes through an exponential moving
# average of the head (a "teacher") when `model_ema=True`.

# %%
def pretrain(model, optimizer, num_epochs, train_loader, criterion, device, prefix="scan",
             model_ema=False):
    dict_log = {"train_loss": []}
    best_loss = 1e8
    model = model.to(device)
    pbar = tqdm(range(num_epochs))
    for epoch in pbar:
        loss_curr_epoch = pretrain_one_epoch(model, optimizer, train_loader, criterion, device,
                                             model_ema=model_ema)
        pbar.set_description(f"Ep {epoch}/{num_epochs}: || Loss: Train {loss_curr_epoch:.3f}")
        dict_log["train_loss"].append(loss_curr_epoch)
        if loss_curr_epoch < best_loss:
            best_loss = loss_curr_epoch
            save_model(model, f"{prefix}_best_model_min_val_loss.pth", epoch, optimizer,
                       best_loss)
    return dict_log


class EMA():
    def __init__(self, alpha, student):
        super().__init__()
        self.alpha = alpha
        self.teacher = copy.deepcopy(student)
        for p in self.teacher.parameters():
            p.requires_grad = False

    def update_average(self, old, new):
        if old is None:
            return new
        return old * self.alpha + (1 - self.alpha) * new

    def update_teacher(self, student):
        for ema_params, student_params in zip(self.teacher.parameters(), student.parameters()):
            ema_params.data = self.update_average(ema_params.data, student_params.data)


def pretrain_one_epoch(model, optimizer, train_loader, criterion, device, model_ema=False):
    """One pass over the pairs; the criterion is SCAN or PMI."""
    model.train()
    loss_step = []
    if model_ema:
        ema = EMA(0.99, model)
    for img1, img2 in train_loader:
        img1, img2 = img1.to(device), img2.to(device)
        p1 = model(img1)
        p2 = ema.teacher(img2) if model_ema else model(img2)
        loss = criterion(p1, p2)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss_step.append(loss.item())
        if model_ema:
            ema.update_teacher(model)
    return np.mean(loss_step)


# %% [markdown]
# ## 10. Training clustering heads
#
# A linear head from the 2048 MoCo features to 10 clusters, trained on the
# neighbour pairs with Adam (lr 1e-4, weight decay 1e-6) for 150 epochs: once with
# SCAN, once with PMI (`PMI(gamma=0.65, momentum=0.9, temp=0.1)`, with the EMA
# teacher). Both together take a few minutes on a GPU.

# %%
n_clusters = 10
num_epochs = 150
### START CODE HERE ### (≈ 10 lines of code)
feat_dim = train_feats.shape[1]
scan_head = nn.Linear(feat_dim, n_clusters)
criterion = SCAN(alpha=5)
optimizer = torch.optim.Adam(scan_head.parameters(), lr=1e-4, weight_decay=1e-6)
dict_log_scan = pretrain(scan_head, optimizer, num_epochs, train_loader, criterion, device,
                         prefix="scan")

pmi_head = nn.Linear(feat_dim, n_clusters)
criterion = PMI(gamma=0.65, momentum=0.9, temp=0.1)
optimizer = torch.optim.Adam(pmi_head.parameters(), lr=1e-4, weight_decay=1e-6)
dict_log_pmi = pretrain(pmi_head, optimizer, num_epochs, train_loader, criterion, device,
                        prefix="pmi", model_ema=True)
### END CODE HERE ###

# %% [markdown]
# ## 11. Evaluating the clusters
#
# `evaluate_clustering` reads the saved features and labels, normalises the
# features as during training, takes the head's most likely cluster for every
# image and scores both splits with `compute_clustering_metrics`.

# %%
@torch.no_grad()
def evaluate_clustering(model):
    model.eval()
    val_feats, val_labels = torch.load("val_feats.pth"), torch.load("val_labels.pth")
    train_feats, train_labels = torch.load("train_feats.pth"), torch.load("train_labels.pth")
    ### START CODE HERE ### (≈ 10 lines of code)
    model = model.cpu()
    train_feats = F.normalize(torch.as_tensor(train_feats).float(), dim=1)
    val_feats = F.normalize(torch.as_tensor(val_feats).float(), dim=1)
    train_preds = model(train_feats).argmax(dim=1).numpy()
    val_preds = model(val_feats).argmax(dim=1).numpy()
    print("Unique preds", np.unique(train_preds), np.unique(val_preds))
    metrics_train = compute_clustering_metrics(torch.as_tensor(train_labels).numpy(), train_preds,
                                               min_samples_per_class=10)
    metrics_val = compute_clustering_metrics(torch.as_tensor(val_labels).numpy(), val_preds,
                                             min_samples_per_class=10)
    return metrics_train[0], metrics_val[0]
    ### END CODE HERE ###


### START CODE HERE ### (4 lines of code)
model = nn.Linear(feat_dim, n_clusters)
model_scan = load_model(model, "./scan_best_model_min_val_loss.pth")
model = nn.Linear(feat_dim, n_clusters)
model_pmi = load_model(model, "./pmi_best_model_min_val_loss.pth")
### END CODE HERE ###
train_acc, val_acc = evaluate_clustering(model_scan)
print(f"SCAN: Train acc: {train_acc:.3f}, Val acc: {val_acc:.3f}")
train_acc, val_acc = evaluate_clustering(model_pmi)
print(f"PMI: Train acc: {train_acc:.3f}, Val acc: {val_acc:.3f}")

# %% [markdown]
# Expected on the real data (runs vary a little): SCAN about 74.4 % and PMI about
# 78.2 % validation accuracy, every one of the 10 clusters in use.
#
# ## Going further
#
# - Plot how many images each cluster receives, for SCAN and for PMI.
# - Compare the mean and median of the highest softmax probability of both heads.
