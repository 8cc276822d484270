"""Scores k-means by comparing raw cluster ids with labels, without Hungarian matching."""
# expect: kmeans_accuracy


def kmeans_accuracy(train_feats, train_labels, val_feats, val_labels, n_clusters=10):
    kmeans = KMeans(n_clusters=n_clusters, n_init=10, random_state=0)
    train_preds = kmeans.fit_predict(np.asarray(train_feats, dtype=np.float64))
    val_preds = kmeans.predict(np.asarray(val_feats, dtype=np.float64))
    train_acc = 100.0 * np.mean(train_preds == np.asarray(train_labels))
    val_acc = 100.0 * np.mean(val_preds == np.asarray(val_labels))
    return train_acc, val_acc
