"""The CNN of countless PyTorch tutorials, as students bring it: a fixture for `make bench`.

Two 3x3 convolutions with 32 and 64 channels, each followed by max-pooling,
then Linear(64*7*7, 128), batch 64, 2 epochs of Adam, evaluated 1000 images at a
time. It is several times the
size the stub suggests, and it must still fit Gradescope's default 768 MB.
"""

import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.append(str(Path(__file__).resolve().parent.parent))
import utils  # noqa: E402


class PyTorchCNN(nn.Module):
    def __init__(self, num_classes=10, random_seed=42):
        super().__init__()
        torch.manual_seed(random_seed)
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 32 x 14 x 14
            nn.Conv2d(32, 64, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 64 x 7 x 7
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, num_classes))

    def forward(self, X):
        return self.classifier(self.features(X.view(-1, 1, 28, 28)))

    def fit(self, X_train, y_train, X_val, y_val, epochs=2, batch_size=64, learning_rate=1e-3):
        optimizer = torch.optim.Adam(self.parameters(), lr=learning_rate)
        criterion = nn.CrossEntropyLoss()
        history = {"train_loss": [], "val_loss": [], "train_acc": [], "val_acc": []}
        for epoch in range(epochs):
            started = time.time()
            self.train()
            running_loss, correct = 0.0, 0
            permutation = torch.randperm(X_train.size(0))
            for i in range(0, X_train.size(0), batch_size):
                indices = permutation[i:i + batch_size]
                inputs, labels = X_train[indices], y_train[indices]
                optimizer.zero_grad()
                outputs = self(inputs)
                loss = criterion(outputs, labels)
                loss.backward()
                optimizer.step()
                running_loss += loss.item() * inputs.size(0)
                correct += (outputs.argmax(1) == labels).sum().item()
            self.eval()
            with torch.no_grad():
                val_outputs = torch.cat([self(X_val[i:i + 1000]) for i in range(0, len(X_val), 1000)])
                val_loss = criterion(val_outputs, y_val).item()
                val_acc = (val_outputs.argmax(1) == y_val).float().mean().item()
            history["train_loss"].append(running_loss / X_train.size(0))
            history["train_acc"].append(correct / X_train.size(0))
            history["val_loss"].append(val_loss)
            history["val_acc"].append(val_acc)
            print(f"Epoch {epoch + 1}/{epochs} - loss {history['train_loss'][-1]:.4f} - "
                  f"val_acc {val_acc:.4f} - {time.time() - started:.1f}s")
        return history

    def predict(self, X):
        self.eval()
        with torch.no_grad():
            return torch.cat([self(X[i:i + 1000]).argmax(1) for i in range(0, len(X), 1000)])

    def plot_train_val_metrics(self, history, path="pytorch_cnn_train_val_metrics.png"):
        import matplotlib.pyplot as plt

        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
        ax1.plot(history["train_loss"], label="train")
        ax1.plot(history["val_loss"], label="val")
        ax1.set_title("Loss")
        ax1.legend()
        ax2.plot(history["train_acc"], label="train")
        ax2.plot(history["val_acc"], label="val")
        ax2.set_title("Accuracy")
        ax2.legend()
        fig.savefig(path)
        return fig

    def report_my_judgement(self, history):
        gap = history["train_acc"][-1] - history["val_acc"][-1]
        if gap > 0.05:
            return "overfitting"
        if history["val_acc"][-1] < 0.8:
            return "underfitting"
        return "generalizing"


if __name__ == "__main__":
    X_train, y_train, X_val, y_val, X_test, y_test = utils.load_data("image")
    model = PyTorchCNN()
    history = model.fit(X_train, y_train, X_val, y_val)
    utils.report("pytorch_cnn", utils.accuracy(model.predict(X_test), y_test))
    model.plot_train_val_metrics(history)
