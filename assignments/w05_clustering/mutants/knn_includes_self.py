"""Takes the top-k of the raw similarity matrix, so every image is its own first neighbour."""
# expect: knn_indices


def knn_indices(feats, k=50):
    unit = F.normalize(torch.as_tensor(feats).float(), dim=1)
    return (unit @ unit.T).topk(k, dim=1).indices
