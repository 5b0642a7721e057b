"""The I3D classification head used by the official Video Swin recognisers."""

from __future__ import annotations

import torch
from torch import nn


class I3DHead(nn.Module):
    """Global average pool over (T, H, W), dropout, linear classifier (``fc_cls``)."""

    def __init__(self, num_classes: int, in_channels: int, dropout_ratio: float = 0.5) -> None:
        super().__init__()
        self.dropout = nn.Dropout(p=dropout_ratio) if dropout_ratio else None
        self.fc_cls = nn.Linear(in_channels, num_classes)
        self.avg_pool = nn.AdaptiveAvgPool3d((1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avg_pool(x)
        if self.dropout is not None:
            x = self.dropout(x)
        return self.fc_cls(x.view(x.shape[0], -1))
