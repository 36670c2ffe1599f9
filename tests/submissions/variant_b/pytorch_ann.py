"""A correct pytorch_ann.py written unlike the reference: explicit layers, AdamW, a wider hidden layer,
history measured on whole sets in eval mode after each epoch."""

import torch
import torch.nn.functional as F
from torch import nn

import utils


class PyTorchANN(nn.Module):
    def __init__(self, input_size=784, hidden_size=200, output_size=10, random_seed=42):
        super().__init__()
        torch.manual_seed(random_seed)
        self.fc1 = nn.Linear(input_size, hidden_size)
        self.fc2 = nn.Linear(hidden_size, output_size)

    def forward(self, X):
        return self.fc2(F.relu(self.fc1(torch.flatten(X, start_dim=1))))

    @torch.no_grad()
    def _evaluate(self, X, y):
        self.eval()
        logits = self(X)
        return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).double().mean().item()

    def fit(self, X_train, y_train, X_val, y_val, epochs=2, batch_size=100, learning_rate=2e-3):
        optimizer = torch.optim.AdamW(self.parameters(), lr=learning_rate)
        history = utils.new_history()
        for epoch in range(1, epochs + 1):
            self.train()
            for idx in torch.randperm(len(X_train)).split(batch_size):
                loss = F.cross_entropy(self(X_train[idx]), y_train[idx])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            for split, X, y in (("train", X_train, y_train), ("val", X_val, y_val)):
                loss, acc = self._evaluate(X, y)
                history[f"{split}_loss"].append(loss)
                history[f"{split}_acc"].append(acc)
            utils.progress(epoch, epochs, history)
        return history

    @torch.no_grad()
    def predict(self, X):
        self.eval()
        return self(X).argmax(dim=-1)

    def plot_train_val_metrics(self, history, path="pytorch_ann_train_val_metrics.png"):
        fig, (ax_loss, ax_acc) = utils.learning_curve_axes("PyTorch ANN")
        for split in ("train", "val"):
            ax_loss.plot(history[f"{split}_loss"], label=split)
            ax_acc.plot(history[f"{split}_acc"], label=split)
        utils.save_figure(fig, path)
        return fig

    def report_my_judgement(self, history):
        train_acc, val_acc = history["train_acc"][-1], history["val_acc"][-1]
        return ("overfitting" if train_acc - val_acc > 0.05 else
                "underfitting" if train_acc < 0.80 else "generalizing")
