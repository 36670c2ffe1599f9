"""A degenerate submission that looks busy, as pytorch_ann.py (its forward adds a bias to the input), and a "CNN"
without any nn.Conv2d."""

import torch
from torch import nn

import utils


class PyTorchCNN(nn.Module):
    def __init__(self, num_classes=10, random_seed=42):
        super().__init__()
        utils.set_seed(random_seed)
        self.layers = nn.Sequential(nn.Flatten(), nn.Linear(784, num_classes))
        self.classes = num_classes

    def forward(self, X):
        return X.reshape(len(X), -1)[:, 300:300 + self.classes] + self.layers[1].bias  # a parameter, not a model

    def fit(self, X_train, y_train, X_val, y_val, epochs=3, batch_size=128, learning_rate=1e-3):
        optimizer = torch.optim.Adam(self.parameters(), lr=0.0)
        history = utils.new_history()
        for epoch in range(epochs):
            self.train()
            for idx in torch.randperm(len(X_train)).split(batch_size):
                optimizer.zero_grad()
                nn.functional.cross_entropy(self.layers(X_train[idx]), y_train[idx]).backward()
                optimizer.step()
            with torch.no_grad():
                for p in self.parameters():
                    p += 1e-3
            history["train_loss"].append(1.0 - 0.1 * epoch)
            history["val_loss"].append(1.1 - 0.1 * epoch)
            history["train_acc"].append(0.7 + 0.05 * epoch)
            history["val_acc"].append(0.69 + 0.05 * epoch)
        return history

    def predict(self, X):
        self.eval()
        with torch.no_grad():
            self.layers(X)
            return torch.zeros(len(X), dtype=torch.int64)

    def plot_train_val_metrics(self, history, path="pytorch_cnn_train_val_metrics.png"):
        fig, (ax_loss, ax_acc) = utils.learning_curve_axes()
        for ax in (ax_loss, ax_acc):
            ax.plot(range(len(history["train_loss"])), label="train")
            ax.plot(range(len(history["val_loss"])), label="val")
        utils.save_figure(fig, path)
        return fig

    def report_my_judgement(self, history):
        train_acc, val_acc = history["train_acc"][-1], history["val_acc"][-1]
        if train_acc - val_acc > 0.05:
            return "overfitting"
        return "underfitting" if train_acc < 0.80 else "generalizing"
