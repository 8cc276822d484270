"""training_step feeds the first view twice and never looks at the second."""
# expect: training_step


def training_step(model, loss_function, data):
    (view_1, view_2), _ = data
    device = next(model.parameters()).device
    view_1 = view_1.to(device)
    return loss_function(model(view_1), model(view_1))
