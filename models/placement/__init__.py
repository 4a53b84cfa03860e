"""GPU placement: how many layers of each pane's model go on the GPU so that every pane fits."""
