"""A correct pytorch_ann.py written unlike the reference: two hidden layers with dropout, SGD with
momentum, running averages in train mode in the history, accuracy plotted in percent, one column of panels."""

import matplotlib.pyplot as plt
import torch
from torch import nn

import utils


class PyTorchANN(nn.Module):
    def __init__(self, input_size=784, hidden_size=128, output_size=10, random_seed=42):
        super().__init__()
        utils.set_seed(random_seed)
        self.hidden = nn.Sequential(nn.Linear(input_size, 256), nn.ReLU(), nn.Dropout(0.2),
                                    nn.Linear(256, hidden_size), nn.ReLU())
        self.out = nn.Linear(hidden_size, output_size)

    def forward(self, X):
        return self.out(self.hidden(X.view(X.shape[0], -1)))

    def fit(self, X_train, y_train, X_val, y_val, epochs=3, batch_size=64, learning_rate=0.05):
        optimizer = torch.optim.SGD(self.parameters(), lr=learning_rate, momentum=0.9)
        criterion = nn.CrossEntropyLoss()
        history = {"train_loss": [], "val_loss": [], "train_acc": [], "val_acc": []}
        for epoch in range(epochs):
            self.train()
            running, hits, seen = 0.0, 0, 0
            for idx in torch.randperm(X_train.shape[0]).split(batch_size):
                xb, yb = X_train[idx], y_train[idx]
                optimizer.zero_grad()
                logits = self(xb)
                loss = criterion(logits, yb)
                loss.backward()
                optimizer.step()
                running += loss.item() * len(yb)
                hits += (logits.argmax(1) == yb).sum().item()
                seen += len(yb)
            self.eval()
            with torch.no_grad():
                val_logits = self(X_val)
                history["val_loss"].append(criterion(val_logits, y_val).item())
                history["val_acc"].append((val_logits.argmax(1) == y_val).float().mean().item())
            history["train_loss"].append(running / seen)
            history["train_acc"].append(hits / seen)
            utils.progress(epoch + 1, epochs, history)
        return history

    def predict(self, X):
        self.eval()
        with torch.no_grad():
            return self(X).argmax(dim=1)

    def plot_train_val_metrics(self, history, path="pytorch_ann_train_val_metrics.png"):
        fig, axes = plt.subplots(2, 1, figsize=(6, 8))
        epochs = list(range(1, len(history["train_loss"]) + 1))
        axes[0].plot(epochs, history["train_loss"], label="train loss")
        axes[0].plot(epochs, history["val_loss"], label="validation loss")
        axes[1].plot(epochs, [100 * a for a in history["train_acc"]], label="train accuracy (%)")
        axes[1].plot(epochs, [100 * a for a in history["val_acc"]], label="validation accuracy (%)")
        for ax in axes:
            ax.legend()
        fig.savefig(path)
        return fig

    def report_my_judgement(self, history):
        gap = history["train_acc"][-1] - history["val_acc"][-1]
        if gap > 0.05:
            return "overfitting"
        elif history["train_acc"][-1] < 0.80:
            return "underfitting"
        else:
            return "generalizing"
