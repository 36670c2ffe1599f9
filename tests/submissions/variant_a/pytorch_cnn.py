"""A correct pytorch_cnn.py written unlike the reference: batch norm, max pooling and dropout, SGD with
momentum at batch 128, image-shaped input only reshaped when flat."""

import matplotlib.pyplot as plt
import torch
from torch import nn

import utils


class PyTorchCNN(nn.Module):
    def __init__(self, num_classes=10, random_seed=42):
        super().__init__()
        utils.set_seed(random_seed)
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(16 * 7 * 7, 64), nn.ReLU(), nn.Dropout(0.25),
                                        nn.Linear(64, num_classes))

    def forward(self, X):
        if X.dim() == 2:
            X = X.view(-1, 1, 28, 28)
        return self.classifier(self.features(X))

    def fit(self, X_train, y_train, X_val, y_val, epochs=3, batch_size=128, learning_rate=0.05):
        optimizer = torch.optim.SGD(self.parameters(), lr=learning_rate, momentum=0.9)
        criterion = nn.CrossEntropyLoss()
        history = utils.new_history()
        for epoch in range(epochs):
            self.train()
            running, hits = 0.0, 0
            for idx in torch.randperm(len(X_train)).split(batch_size):
                optimizer.zero_grad()
                logits = self(X_train[idx])
                loss = criterion(logits, y_train[idx])
                loss.backward()
                optimizer.step()
                running += loss.item() * len(idx)
                hits += (logits.argmax(1) == y_train[idx]).sum().item()
            self.eval()
            with torch.no_grad():
                val_logits = torch.cat([self(X_val[i:i + 500]) for i in range(0, len(X_val), 500)])
            history["train_loss"].append(running / len(X_train))
            history["train_acc"].append(hits / len(X_train))
            history["val_loss"].append(criterion(val_logits, y_val).item())
            history["val_acc"].append((val_logits.argmax(1) == y_val).float().mean().item())
            utils.progress(epoch + 1, epochs, history)
        return history

    def predict(self, X):
        self.eval()
        with torch.no_grad():
            return torch.cat([self(X[i:i + 500]).argmax(1) for i in range(0, len(X), 500)])

    def plot_train_val_metrics(self, history, path="pytorch_cnn_train_val_metrics.png"):
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
        left.plot(history["train_loss"], label="train")
        left.plot(history["val_loss"], label="val")
        right.plot([100 * a for a in history["train_acc"]], label="train")
        right.plot([100 * a for a in history["val_acc"]], label="val")
        fig.savefig(path)
        return fig

    def report_my_judgement(self, history):
        train_acc, val_acc = history["train_acc"][-1], history["val_acc"][-1]
        if train_acc - val_acc > 0.05:
            return "overfitting"
        return "underfitting" if train_acc < 0.8 else "generalizing"
