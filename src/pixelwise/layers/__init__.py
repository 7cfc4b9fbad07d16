"""Building blocks shared by the architectures (the lecture's operators)."""

from pixelwise.layers.aspp import ASPPv2, ASPPv3, ImagePoolingBranch, aspp_rates
from pixelwise.layers.atrous import AtrousConv2d, upsample_filter
from pixelwise.layers.conv_norm_act import (
    ConvNormAct,
    SafeBatchNorm2d,
    make_activation,
    make_norm,
    resize_to,
)
from pixelwise.layers.cost import (
    LayerCost,
    conv_cost,
    count_parameters,
    module_cost,
    separable_conv_cost,
)
from pixelwise.layers.image_pooling import GlobalContext, L2Norm
from pixelwise.layers.pyramid_pooling import PyramidPooling
from pixelwise.layers.separable import AtrousSeparableConv2d, DepthwiseSeparableConv2d
from pixelwise.layers.upsampling import (
    BedOfNailsUpsample,
    BilinearUpsample,
    MaxPoolWithIndices,
    MaxUnpool,
    NearestUpsample,
    TransposedConvUpsample,
    bed_of_nails_upsample,
    max_unpool,
    nearest_upsample,
)

__all__ = [
    "ASPPv2",
    "ASPPv3",
    "AtrousConv2d",
    "AtrousSeparableConv2d",
    "BedOfNailsUpsample",
    "BilinearUpsample",
    "ConvNormAct",
    "DepthwiseSeparableConv2d",
    "GlobalContext",
    "ImagePoolingBranch",
    "L2Norm",
    "LayerCost",
    "MaxPoolWithIndices",
    "MaxUnpool",
    "NearestUpsample",
    "PyramidPooling",
    "SafeBatchNorm2d",
    "TransposedConvUpsample",
    "aspp_rates",
    "bed_of_nails_upsample",
    "conv_cost",
    "count_parameters",
    "make_activation",
    "make_norm",
    "max_unpool",
    "module_cost",
    "nearest_upsample",
    "resize_to",
    "separable_conv_cost",
    "upsample_filter",
]
