"""Entry point, `streamlit run streamlit_app.py`, and the Home page: what the lab is, which
model is active, how students join, where to go next. Imports no TensorFlow, so the app opens
at once (the bundled model warms up in the background meanwhile)."""
import streamlit as st

from ui import joining, models, resources, teacher
from ui.navigation import HOME, PAGES, setup_page

setup_page()

st.title("MNIST CNN Lab")
st.markdown(
    "Train a convolutional neural network on MNIST's 70,000 handwritten digits and watch it "
    "learn, live. Study what it gets wrong: the confusion matrix, its most confident "
    "mistakes, how runs compare. Then draw digits yourself and see what the network sees.")

model = models.active_model()
left, right = st.columns(2)
left.metric("Class model" if model.ref == models.class_model().ref else
            "Model in this browser", model.label)
if model.test_accuracy is not None:
    right.metric("Test accuracy (10,000 official test images)", f"{model.test_accuracy:.2%}")

job = resources.job_registry().current
if job is not None and job.active:
    running = job.describe()
    st.info(f"{running[:1].upper()}{running[1:]} is running.", icon=":material/model_training:")

for page in PAGES:
    if page != HOME:
        st.page_link(page.path, label=page.blurb, icon=page.icon)

st.subheader("Join from your device")
join = joining.join_address()
address, code = st.columns([2, 1], vertical_alignment="center")
address.markdown("Students open this address in their browser, or scan the code:")
address.header(join.url, anchor=False)
if join.reachable_by_others:
    address.caption("Same Wi-Fi as this computer needed. Students can draw, save drawings and "
                    "watch training; the teacher key (sidebar) guards the rest when one is set.")
    code.image(resources.qr_code(join.url), caption=join.url, width=200,
               alt=f"QR code of {join.url}")
    if (cert := joining.https_certificate()) is not None:
        from urllib.parse import urlsplit

        host, hosts = urlsplit(join.url).hostname, resources.certificate_hosts(cert)
        if hosts is not None and host not in hosts:
            address.warning(f"The certificate `{cert}` is not made for {host} (this computer's "
                            "address changed?): browsers will also say it is for another "
                            "site. Make a new one with `python -m mnist_core https-cert "
                            "--force` and restart the server.", icon=":material/warning:")
        address.caption(":material/lock: Encrypted (https). The certificate is self-signed, "
                        "so each browser warns once: in Chrome (Chromebook, Android) tap "
                        "*Advanced*, then *Proceed*. iPads and iPhones need it installed and "
                        "trusted first (README, \"Over https\").")
    elif teacher.teacher_key() is not None:
        address.caption(":material/lock_open: Not encrypted (http): whoever shares this "
                        "Wi-Fi could read the teacher key as it is typed. To encrypt, run "
                        "`python -m mnist_core https-cert` and start the server as it says.")
else:
    address.warning("This server only listens on this computer, so students cannot reach it. "
                    "Start it with `streamlit run streamlit_app.py --server.address 0.0.0.0` "
                    "to let a class join.", icon=":material/wifi_off:")
