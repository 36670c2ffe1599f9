"""pytorch_ann.py: a multilayer perceptron in PyTorch (the rows of autograder/specs)."""

from autograder.specs import TORCH_MLP, Spec
from autograder.specs.torch_rows import rows

SPEC = Spec(
    file="pytorch_ann",
    cls="PyTorchANN",
    number=2,
    label="PyTorch ANN",
    kind=TORCH_MLP,
    layout="flat",
    train_share=0.2,
    png="pytorch_ann_train_val_metrics.png",
    summary="an MLP in PyTorch: the model, its training loop, prediction, learning curves and a "
    "judgement of them",
    rows=rows(
        {
            "forward_flat": 1,
            "forward_image": 2,
            "logits": 3,
            "loss_falls": 4,
            "zero_grad": 5,
            "parameters_change": 6,
            "history": 7,
            "predict_indices": 8,
            "predict_eval": 9,
            "plot": 10,
            "judgement": 11,
            "accuracy": 12,
            "png_present": 13,
            "png_real": 14,
        }
    ),
)
