"""extract_features returns the model's rotation logits instead of the 512 features before fc."""
# expect: extract_features


def extract_features(model, dataloader, device):
    return get_features(model, dataloader, device)
