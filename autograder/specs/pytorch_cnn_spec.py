"""pytorch_cnn.py: a convolutional network in PyTorch (the rows of autograder/specs)."""

from autograder.specs import TORCH_CNN, Row, Spec
from autograder.specs.torch_rows import rows

SPEC = Spec(
    file="pytorch_cnn",
    cls="PyTorchCNN",
    number=3,
    label="PyTorch CNN",
    kind=TORCH_CNN,
    layout="image",
    train_share=0.6,
    png="pytorch_cnn_train_val_metrics.png",
    summary="a CNN in PyTorch, same methods",
    rows=(
        Row(
            1,
            "architecture: holds at least one nn.Conv2d",
            1,
            "the nn.Conv2d modules of a new PyTorchCNN()",
            ("construct",),
        ),
        *rows(
            {
                "forward_flat": 2,
                "forward_image": 3,
                "logits": 4,
                "loss_falls": 5,
                "zero_grad": 6,
                "parameters_change": 7,
                "history": 8,
                "predict_indices": 9,
                "predict_eval": 10,
                "plot": 11,
                "judgement": 12,
                "accuracy": 13,
                "png_present": 14,
                "png_real": 15,
            }
        ),
    ),
)
