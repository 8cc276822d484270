"""main('simclr') builds a fresh ResNetSimCLR and forgets to load the pretrained weights."""
# expect: main


def main(mode='simclr'):
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    transf = T.Compose([T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    train_dl, val_dl = load_data(batch_size=128, train_split="train", test_split="test",
                                 transf=transf)
    if mode == 'random':
        model = models.resnet18(weights=None)
    elif mode == 'imagenet':
        model = models.resnet18(weights=models.ResNet18_Weights.IMAGENET1K_V1)
    else:
        model = ResNetSimCLR(embedding_size=128).backbone
    model.fc = nn.Linear(512, 10)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    return linear_eval(model, optimizer, 20, train_dl, val_dl, device)
