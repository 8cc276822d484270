"""Loads the checkpoint without stripping 'module.encoder_q.': strict=False hides that nothing loads.
"""
# expect: load_moco_model


def load_moco_model(pretrained_path="./moco_v2_800ep_pretrain.pth.tar"):
    ckpt = torch.load(pretrained_path, map_location="cpu", weights_only=True)
    model = getattr(models, ckpt["arch"])(weights=None)
    model.fc = nn.Identity()
    model.load_state_dict(ckpt["state_dict"], strict=False)
    model.eval()
    return model
