"""The embedded demo device: a stand-in DGX Spark on loopback (see ``device.DemoDevice``).

Modules: ``device`` (DemoDevice, DemoDeviceThread), ``login`` (who may log in),
``shell_server`` (SSH sessions on real PTYs), ``fake_nvidia_smi`` (GB10-like nvidia-smi),
``web`` (DGX Dashboard and JupyterLab stand-ins), ``advertise`` (mDNS on 127.0.0.1 only).
"""
