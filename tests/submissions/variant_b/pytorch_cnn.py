"""A correct pytorch_cnn.py written unlike the reference: 5x5 convolutions with max pooling and a single
linear layer, Adam at 2e-3 for 2 epochs, history measured on whole sets in eval mode."""

import torch
import torch.nn.functional as F
from torch import nn

import utils


class PyTorchCNN(nn.Module):
    def __init__(self, num_classes=10, random_seed=42):
        super().__init__()
        torch.manual_seed(random_seed)
        self.conv1 = nn.Conv2d(1, 12, 5, padding=2)
        self.conv2 = nn.Conv2d(12, 24, 5, padding=2)
        self.fc = nn.Linear(24 * 7 * 7, num_classes)

    def forward(self, X):
        X = X.reshape(-1, 1, 28, 28)
        X = F.max_pool2d(F.relu(self.conv1(X)), 2)
        X = F.max_pool2d(F.relu(self.conv2(X)), 2)
        return self.fc(X.flatten(1))

    @torch.no_grad()
    def _evaluate(self, X, y):
        self.eval()
        logits = torch.cat([self(chunk) for chunk in X.split(1000)])
        return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()

    def fit(self, X_train, y_train, X_val, y_val, epochs=2, batch_size=64, learning_rate=2e-3):
        optimizer = torch.optim.Adam(self.parameters(), lr=learning_rate)
        history = utils.new_history()
        for epoch in range(1, epochs + 1):
            self.train()
            for idx in torch.randperm(len(X_train)).split(batch_size):
                optimizer.zero_grad()
                F.cross_entropy(self(X_train[idx]), y_train[idx]).backward()
                optimizer.step()
            for split, X, y in (("train", X_train[:10000], y_train[:10000]), ("val", X_val, y_val)):
                loss, acc = self._evaluate(X, y)
                history[f"{split}_loss"].append(loss)
                history[f"{split}_acc"].append(acc)
            utils.progress(epoch, epochs, history)
        return history

    @torch.no_grad()
    def predict(self, X):
        self.eval()
        return torch.cat([self(chunk).argmax(1) for chunk in X.split(1000)])

    def plot_train_val_metrics(self, history, path="pytorch_cnn_train_val_metrics.png"):
        fig, (ax_loss, ax_acc) = utils.learning_curve_axes("PyTorch CNN")
        for split in ("train", "val"):
            ax_loss.plot(range(1, len(history[f"{split}_loss"]) + 1), history[f"{split}_loss"], label=split)
            ax_acc.plot(range(1, len(history[f"{split}_acc"]) + 1), history[f"{split}_acc"], label=split)
        utils.save_figure(fig, path)
        return fig

    def report_my_judgement(self, history):
        last = {key: values[-1] for key, values in history.items()}
        if last["train_acc"] - last["val_acc"] > 0.05:
            return "overfitting"
        if last["train_acc"] < 0.80:
            return "underfitting"
        return "generalizing"
