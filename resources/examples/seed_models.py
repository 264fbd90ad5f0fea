"""The example models LayerScope ships and tests with, defined once for the example and fixture scripts.

SeedCNN is the classifier people bring to LayerScope: four Conv-BatchNorm-ReLU-MaxPool blocks on a
1x101x101 image, then Linear(1152, 256), ReLU, Linear(256, 4). SeedNested applies one feature
extractor to two inputs (so it runs twice per forward), mixes the two feature vectors with a
TransformerEncoderLayer and classifies them with a Linear head.
"""
import torch
from torch import nn


def conv_block(in_channels: int, out_channels: int, kernel_size: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
        nn.MaxPool2d(2),
    )


def seed_cnn_blocks() -> nn.Sequential:
    # 101 -conv5-> 97 -pool-> 48 -conv5-> 44 -pool-> 22 -conv5-> 18 -pool-> 9 -conv3-> 7 -pool-> 3: 128*3*3 = 1152
    return nn.Sequential(conv_block(1, 16, 5), conv_block(16, 32, 5), conv_block(32, 64, 5), conv_block(64, 128, 3))


class SeedCNN(nn.Module):
    def __init__(self, num_classes: int = 4):
        super().__init__()
        self.cnn = seed_cnn_blocks()
        self.linear = nn.Sequential(nn.Linear(1152, 256), nn.ReLU(), nn.Linear(256, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.cnn(x)
        x = torch.flatten(x, 1)
        return self.linear(x)


class FeatureModel(nn.Module):
    def __init__(self, features: int = 64):
        super().__init__()
        self.cnn = seed_cnn_blocks()
        self.projection = nn.Linear(1152, features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projection(torch.flatten(self.cnn(x), 1))


class SeedNested(nn.Module):
    def __init__(self, features: int = 64, num_classes: int = 4):
        super().__init__()
        self.feature_model = FeatureModel(features)
        self.encoder = nn.TransformerEncoderLayer(
            d_model=features, nhead=4, dim_feedforward=128, dropout=0.0, batch_first=True)
        self.head = nn.Linear(2 * features, num_classes)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        tokens = torch.stack([self.feature_model(x), self.feature_model(y)], dim=1)
        return self.head(torch.flatten(self.encoder(tokens), 1))


def randomize_batchnorm(model: nn.Module, generator: torch.Generator) -> None:
    """Give BatchNorm layers non-trivial running statistics, as a trained model has."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            n = module.num_features
            module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
            module.weight.data.copy_(torch.rand(n, generator=generator) + 0.5)
            module.bias.data.copy_(torch.randn(n, generator=generator) * 0.1)


def make_seed_cnn(seed: int = 0) -> SeedCNN:
    torch.manual_seed(seed)
    model = SeedCNN()
    with torch.no_grad():
        randomize_batchnorm(model, torch.Generator().manual_seed(seed))
    return model.eval()


def make_seed_nested(seed: int = 0) -> SeedNested:
    torch.manual_seed(seed)
    model = SeedNested()
    with torch.no_grad():
        randomize_batchnorm(model, torch.Generator().manual_seed(seed))
    return model.eval()
