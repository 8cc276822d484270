"""Every layer keeps base_channels channels instead of doubling / halving them."""
# expect: Autoencoder


class Autoencoder(nn.Module):
    def __init__(self, in_channels, base_channels, n_layers, kernel_size, stride, padding):
        super().__init__()
        enc, dec = [], []
        widths = [in_channels] + [base_channels] * n_layers
        for a, b in zip(widths[:-1], widths[1:]):
            enc += [nn.Conv2d(a, b, kernel_size, stride, padding), nn.ReLU()]
        back = widths[::-1]
        for i, (a, b) in enumerate(zip(back[:-1], back[1:])):
            dec += [nn.ConvTranspose2d(a, b, kernel_size, stride, padding, output_padding=1),
                    nn.Sigmoid() if i == n_layers - 1 else nn.ReLU()]
        self.encoder = nn.Sequential(*enc)
        self.decoder = nn.Sequential(*dec)

    def forward(self, x):
        return self.decoder(self.encoder(x))

    def encode(self, x):
        return self.encoder(x)
