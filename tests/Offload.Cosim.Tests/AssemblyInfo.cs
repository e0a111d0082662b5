// Every test here drives the Verilator model: the model stage runs them.
[assembly: Category("Model")]
