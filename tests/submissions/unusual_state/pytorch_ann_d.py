"""MLP in PyTorch; the data statistics are computed with NumPy in fit."""

import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.append(str(Path(__file__).resolve().parents[2]))
import utils  # noqa: E402


class PyTorchANN(nn.Module):
    def __init__(self, input_size=784, hidden_size=128, output_size=10, random_seed=42):
        super().__init__()
        utils.set_seed(random_seed)
        self.fc1 = nn.Linear(input_size, hidden_size)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(hidden_size, output_size)
        self.x_mean, self.x_std = 0.0, 1.0  # replaced by the training set's statistics in fit

    def forward(self, X):
        X = X.flatten(1)
        X = (X - self.x_mean) / self.x_std
        return self.fc2(self.relu(self.fc1(X)))

    def fit(self, X_train, y_train, X_val, y_val, epochs=3, batch_size=128, learning_rate=1e-3):
        history = utils.new_history()
        pixels = X_train.numpy()
        self.x_mean = pixels.mean()  # numpy float32 scalars
        self.x_std = pixels.std()
        loss_fn = nn.CrossEntropyLoss()
        optimizer = torch.optim.Adam(self.parameters(), lr=learning_rate)
        n = len(X_train)
        for epoch in range(1, epochs + 1):
            started = time.process_time()
            self.train()
            batch_losses, batch_accs = [], []
            for idx in torch.randperm(n).split(batch_size):
                optimizer.zero_grad()
                logits = self(X_train[idx])
                loss = loss_fn(logits, y_train[idx])
                loss.backward()
                optimizer.step()
                batch_losses.append(loss.item())
                batch_accs.append((logits.argmax(1) == y_train[idx]).float().mean().item())
            self.eval()
            with torch.no_grad():
                val_logits = self(X_val)
            history["train_loss"].append(sum(batch_losses) / len(batch_losses))
            history["train_acc"].append(sum(batch_accs) / len(batch_accs))
            history["val_loss"].append(loss_fn(val_logits, y_val).item())
            history["val_acc"].append((val_logits.argmax(1) == y_val).float().mean().item())
            utils.progress(epoch, epochs, history, time.process_time() - started)
        return history

    def predict(self, X):
        self.eval()
        with torch.no_grad():
            return self(X).argmax(dim=1)

    def plot_train_val_metrics(self, history, path="pytorch_ann_train_val_metrics.png"):
        fig, (ax_loss, ax_acc) = utils.learning_curve_axes("PyTorch ANN")
        for split in ("train", "val"):
            ax_loss.plot(range(1, len(history[f"{split}_loss"]) + 1), history[f"{split}_loss"], label=split)
            ax_acc.plot(range(1, len(history[f"{split}_acc"]) + 1), history[f"{split}_acc"], label=split)
        utils.save_figure(fig, path)
        return fig

    def report_my_judgement(self, history):
        train_acc, val_acc = history["train_acc"][-1], history["val_acc"][-1]
        if train_acc - val_acc > 0.05:
            return "overfitting"
        return "underfitting" if train_acc < 0.80 else "generalizing"


if __name__ == "__main__":
    X_train, y_train, X_val, y_val, X_test, y_test = utils.load_data("flat")
    model = PyTorchANN()
    history = model.fit(X_train, y_train, X_val, y_val)
    utils.report("pytorch_ann", utils.accuracy(model.predict(X_test), y_test))
    model.plot_train_val_metrics(history, Path(__file__).with_name("pytorch_ann_train_val_metrics.png"))
    print("judgement:", model.report_my_judgement(history))
